"""Use-case: read a dataset and check it against the schema before anything else touches it."""

from __future__ import annotations

import logging

from churnguard.application.errors import ModelNotFound, require_schema
from churnguard.application.ports import Dataset, DatasetSource, DatasetValidator, ModelStore
from churnguard.domain.customer import ORIGINAL_SCHEMA
from churnguard.domain.model_version import ModelVersion
from churnguard.domain.schema import TableSchema

logger = logging.getLogger(__name__)


class ValidateDataset:
    """Read a table and check it against a schema: the one the user named (`named`, from
    --schema or SCHEMA_PATH; the original's when none is), or a stored model's own (`for_model`)."""

    def __init__(self, source: DatasetSource, validator: DatasetValidator, named: TableSchema | None = None) -> None:
        self._source = source
        self._validator = validator
        self._named = named
        self._schema = named or ORIGINAL_SCHEMA

    @property
    def schema(self) -> TableSchema:
        return self._schema

    def __call__(self, location: str, schema: TableSchema | None = None) -> Dataset:
        """The validated dataset; raises DatasetUnreadable or InvalidDataset, writing nothing."""
        dataset = self._validator.validate(self._source.load(location), schema or self._schema)
        logger.info(
            "dataset valid",
            extra={
                "location": location,
                "rows": dataset.rows,
                "data_hash": dataset.data_hash,
                "schema": dataset.schema.name,
                "duplicates": dataset.duplicates,
            },
        )
        return dataset

    def for_model(self, location: str, store: ModelStore, model_ref: str | None) -> Dataset:
        """The table checked against the schema `model_ref` (default: the latest) was trained with.

        A schema the user named must be that schema (SchemaMismatch names both hashes). With no
        model stored, the table is still checked against the declared schema first, so a broken
        file is reported as such before "no trained model".
        """
        version: ModelVersion | None = store.get(model_ref) if model_ref else store.latest()
        if version is None:
            self(location)
            raise ModelNotFound("no trained model in the store; run `churnguard train` first")
        require_schema(version, self._named, "the schema named with --schema or SCHEMA_PATH")
        return self(location, version.schema)
