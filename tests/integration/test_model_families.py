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
        assert (family.shap is None) == bool(family.no_shap_because), family.name
        assert set(family.trusted_types) <= set(TRUSTED_TYPES), family.name
