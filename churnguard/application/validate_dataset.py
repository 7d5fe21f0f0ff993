"""Use-case: read a dataset and check it against the schema before anything else touches it."""

from __future__ import annotations

import logging

from churnguard.application.ports import Dataset, DatasetSource, DatasetValidator

logger = logging.getLogger(__name__)


class ValidateDataset:
    def __init__(self, source: DatasetSource, validator: DatasetValidator) -> None:
        self._source = source
        self._validator = validator

    def __call__(self, location: str) -> Dataset:
        """The validated dataset; raises DatasetUnreadable or InvalidDataset, writing nothing."""
        dataset = self._validator.validate(self._source.load(location))
        logger.info("dataset valid", extra={"location": location, "rows": dataset.rows, "data_hash": dataset.data_hash})
        return dataset
