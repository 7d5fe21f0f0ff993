"""A model family is defined once: the names the settings and the CLI offer are the families the
adapters define, and each family's definition answers for its SHAP explainer and stored types."""

from __future__ import annotations

import typing

from churnguard.adapters.filesystem_model_store import TRUSTED_TYPES
from churnguard.adapters.model_families import FAMILIES
from churnguard.domain.model_family import FAMILY_NAMES, FAMILY_SETS, FamilySet
from churnguard.entrypoints.cli import build_parser
from churnguard.entrypoints.settings import TrainingSettings


def test_the_offered_family_sets_are_the_defined_families():
    assert tuple(FAMILIES) == FAMILY_NAMES
    assert set(FAMILY_SETS) == set(FamilySet)
    assert {name for members in FAMILY_SETS.values() for name in members} == set(FAMILIES)
    assert typing.get_type_hints(TrainingSettings)["family"] is FamilySet
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert isinstance(commands, dict)
    (family,) = [action for action in commands["train"]._actions if action.dest == "family"]
    assert list(family.choices or ()) == [choice.value for choice in FamilySet]


def test_each_family_says_how_it_is_explained_and_what_its_stored_form_holds():
    for family in FAMILIES.values():
        assert (family.shap is None or family.category_splits) == bool(family.no_shap_because), family.name
        assert set(family.trusted_types) <= set(TRUSTED_TYPES), family.name


def _table(rows: int = 3000, seed: int = 7):
    """A table whose churn is logistic in its fields: plan 'basic' and low activity raise it."""
    import numpy as np

    from churnguard.domain.schema import Field, Kind, LabelColumn, TableSchema

    schema = TableSchema(
        "t",
        LabelColumn("y", (1,), (0,)),
        (
            Field("plan", Kind.CATEGORY, labels=("basic", "plus", "pro")),
            Field("active", Kind.BINARY, labels=("no", "yes")),
            Field("spend", Kind.NUMBER, minimum=0, maximum=2000),
            Field("calls", Kind.INTEGER, minimum=0, maximum=60),
        ),
    )
    rng = np.random.default_rng(seed)
    raw = np.column_stack(
        [
            rng.choice(3, rows, p=[0.55, 0.25, 0.2]),
            rng.choice(2, rows, p=[0.45, 0.55]),
            rng.gamma(2, 40, rows),
            rng.poisson(3, rows),
        ]
    ).astype(float)
    logit = -1 + 1.4 * (raw[:, 0] == 0) - 1.1 * raw[:, 1] + 0.01 * (raw[:, 2] - 80) + 0.25 * (raw[:, 3] - 3)
    target = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return schema, raw, target


def test_the_served_attribution_agrees_with_exact_shap_for_the_logistic_family():
    """Exact (linear) SHAP of the log-odds, summed over a category's one-hot columns, against the
    expected change in probability: the same sign wherever SHAP is clear of zero (0.3 log-odds),
    the same largest field for most customers, and the same order of fields on the whole."""
    import numpy as np
    from scipy.stats import spearmanr

    from churnguard.domain.attribution import Reference, contribution_matrix, substituted_batch

    schema, raw, target = _table()
    matrix = schema.model_matrix(raw)
    pipeline = FAMILIES["logistic"].build({"C": 1.0}, 0, schema).fit(matrix, target)
    reference = Reference.fit(schema, raw)
    shown = raw[:500]
    scores = pipeline.predict_proba(substituted_batch(schema, shown, reference))[:, 1]
    contributions = contribution_matrix(shown, reference, scores.reshape(len(shown), reference.rows_per_customer))
    explainer, _ = FAMILIES["logistic"].shap_explainer(pipeline, matrix)
    values = np.asarray(explainer.shap_values(pipeline[:-1].transform(schema.model_matrix(shown))))
    columns = [str(name).split("__", 1)[-1] for name in pipeline[:-1].get_feature_names_out(list(schema.raw_fields))]
    by_field = np.column_stack(
        [
            values[:, [i for i, column in enumerate(columns) if column == name or column.startswith(f"{name}_")]].sum(1)
            for name in schema.raw_fields
        ]
    )
    clear = np.abs(by_field) > 0.3
    assert clear.sum() > 500
    assert (np.sign(by_field[clear]) == np.sign(contributions[clear])).all()
    assert (np.argmax(np.abs(by_field), 1) == np.argmax(np.abs(contributions), 1)).mean() > 0.8
    rank = [spearmanr(np.abs(by_field[i]), np.abs(contributions[i])).statistic for i in range(len(shown))]
    assert np.nanmean(rank) > 0.75


def test_hgb_offers_exact_tree_shap_without_category_fields_and_says_why_not_with_them():
    import numpy as np
    import pytest

    from churnguard.adapters.model_families import ShapMethod
    from churnguard.application.errors import ExplanationUnavailable
    from churnguard.domain.schema import TableSchema

    schema, raw, target = _table(800)
    family = FAMILIES["hgb"]
    params = {"max_iter": 30, "learning_rate": 0.1, "max_leaf_nodes": 8, "min_samples_leaf": 20}
    numbers = TableSchema("n", schema.label, schema.fields[1:])  # no category field
    numeric = family.build(params, 0, numbers).fit(numbers.model_matrix(raw[:, 1:]), target)
    assert family.shap_method(numeric) is ShapMethod.TREE
    explainer, rows = family.shap_explainer(numeric, numbers.model_matrix(raw[:50, 1:]))
    values = np.asarray(explainer.shap_values(rows))
    log_odds = numeric[-1].decision_function(rows)
    np.testing.assert_allclose(values.sum(axis=1) + np.ravel(explainer.expected_value)[0], log_odds, atol=1e-6)
    categorical = family.build(params, 0, schema).fit(schema.model_matrix(raw), target)
    assert family.shap_method(categorical) is None
    with pytest.raises(ExplanationUnavailable, match="split on sets of categories"):
        family.shap_explainer(categorical, schema.model_matrix(raw[:5]))
