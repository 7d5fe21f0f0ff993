import pytest

from churnguard.application.errors import (
    DatasetUnreadable,
    EvaluationMismatch,
    InvalidDataset,
    ModelNotFound,
    TrackingUnavailable,
    Violation,
)
from churnguard.application.evaluate_model import EvaluateModel
from churnguard.application.ports import TrainingPlan
from churnguard.application.promote_model import PromoteModel
from churnguard.application.run_pipeline import RunPipeline
from churnguard.application.train_model import TrainModel
from churnguard.application.validate_dataset import ValidateDataset
from churnguard.domain.model_version import fingerprint
from churnguard.domain.quality_gate import QualityGate
from tests.fakes import (
    HOLDOUT_METRICS,
    FakeClock,
    FakeDatasetSource,
    FakeDatasetValidator,
    FakeExperimentTracker,
    FakeModelEvaluator,
    FakeModelStore,
    FakeModelTrainer,
    FakeReportWriter,
    fake_dataset,
    with_hash,
)

PLAN = TrainingPlan(families=("fake",), grid_size="tiny", test_size=0.2, random_state=7)


class World:
    """Every port faked, and the use-cases wired to them."""

    def __init__(self, trainer_metrics=None, evaluator_metrics=None, violations=None, min_f1=0.72, target=(1, 1, 0, 0)):
        self.dataset = fake_dataset("data.csv")
        self.source = FakeDatasetSource({"data.csv": self.dataset})
        self.validator = FakeDatasetValidator(violations)
        self.trainer = FakeModelTrainer(trainer_metrics)
        self.evaluator = FakeModelEvaluator(evaluator_metrics or trainer_metrics, target=target)
        self.store = FakeModelStore()
        self.writer = FakeReportWriter()
        self.tracker = FakeExperimentTracker()
        self.clock = FakeClock()
        self.validate = ValidateDataset(self.source, self.validator)
        self.train = TrainModel(self.trainer, self.store, self.tracker, self.clock, PLAN, validate=self.validate)
        self.evaluate = EvaluateModel(
            self.evaluator, self.store, self.writer, self.tracker, self.clock, validate=self.validate
        )
        self.gate = QualityGate(min_f1=min_f1, tolerance=0.01)
        self.promote = PromoteModel(
            self.store, self.evaluator, self.gate, self.tracker, bootstrap_rounds=500, validate=self.validate
        )
        self.pipeline = RunPipeline(self.validate, self.train, self.evaluate, self.promote)


def test_validate_returns_the_dataset_the_validator_accepted():
    world = World()
    assert world.validate("data.csv") is world.dataset
    assert world.validator.validated == ["data.csv"]


def test_validate_raises_for_an_unreadable_location():
    with pytest.raises(DatasetUnreadable, match="no such file"):
        World().validate("missing.csv")


def test_train_stores_a_version_fingerprinted_by_data_params_and_settings():
    world = World()
    outcome = world.train(world.dataset)
    expected = fingerprint(
        "d" * 64,
        {"family": "fake", "max_depth": 3, "calibration": "none"},
        {**PLAN.fingerprint_settings(), "search_space": {"fake": {"max_depth": [3]}}},
    )
    assert outcome.version.fingerprint == expected
    assert world.store.versions[expected].metrics == HOLDOUT_METRICS
    assert world.store.versions[expected].settings["random_state"] == 7
    assert world.tracker.events == [("check", None), ("training", expected)]
    assert world.store.versions[expected].run_id == "run-1"
    assert world.store.versions[expected].registry_version == "7"
    assert world.trainer.calls == [PLAN]


def test_evaluate_on_the_training_data_confirms_the_training_metrics():
    world = World()
    version = world.train(world.dataset).version
    report, location = world.evaluate(world.dataset)
    assert report.fingerprint == version.fingerprint
    assert report.same_data_as_training
    assert report.matches_training_metrics
    assert location == "memory://evaluation/1"
    assert world.evaluator.calls[0][1:] == (0.2, 7, 0.4)
    assert world.store.versions[version.fingerprint].threshold == 0.4


def test_evaluate_refuses_metrics_that_differ_from_training_on_the_same_data():
    world = World(trainer_metrics=HOLDOUT_METRICS, evaluator_metrics={**HOLDOUT_METRICS, "f1": 0.5})
    world.train(world.dataset)
    with pytest.raises(EvaluationMismatch, match="f1"):
        world.evaluate(world.dataset)
    assert world.writer.reports == []


def test_evaluate_on_other_data_reports_without_claiming_a_match():
    world = World(evaluator_metrics={**HOLDOUT_METRICS, "f1": 0.5})
    world.evaluator.metrics = {**HOLDOUT_METRICS, "f1": 0.5}
    world.train(world.dataset)
    report, _ = world.evaluate(with_hash(world.dataset, "e" * 64))
    assert not report.same_data_as_training
    assert not report.matches_training_metrics
    assert report.evaluation.metrics["f1"] == 0.5


def test_evaluate_without_any_model_says_so():
    world = World()
    with pytest.raises(ModelNotFound, match="no trained model"):
        world.evaluate(world.dataset)


def test_promote_makes_the_first_good_model_champion_under_the_lock():
    world = World()
    world.store.add("aaa", f1=0.8)
    outcome = world.promote(world.dataset)
    assert outcome.decision.promote
    assert outcome.decision.candidate_f1 == 1.0
    assert world.store.champion_fingerprint == "aaa"
    assert world.store.champion_switched_under_lock == [True]
    assert world.tracker.events == [("promotion", ("aaa", True))]


def test_promote_judges_f1_on_the_holdout_at_the_models_threshold():
    world = World()
    model = object()
    world.store.add("aaa", f1=0.9, model=model)
    world.evaluator.probabilities[id(model)] = [0.6, 0.4, 0.1, 0.1]  # threshold 0.5: one of two churners found
    outcome = world.promote(world.dataset, "aaa")
    assert outcome.decision.candidate_f1 == 2 / 3
    assert not outcome.decision.promote
    assert world.store.champion_fingerprint is None


ROWS = 400
TARGET = [1] * (ROWS // 2) + [0] * (ROWS // 2)


def _probabilities(correct: int, first: int = 0) -> list[float]:
    """Positives first..first+correct-1 scored 0.9, the other positives 0.1; negatives all 0.1."""
    positives = [0.9 if first <= row < first + correct else 0.1 for row in range(ROWS // 2)]
    return positives + [0.1] * (ROWS // 2)


def _world_with_champion(champion_correct: int, candidate_correct: int, candidate_first: int = 0) -> World:
    world = World(target=TARGET)
    champion_model, candidate_model = object(), object()
    world.store.add("champ", f1=0.8, model=champion_model)
    world.store.champion_fingerprint = "champ"
    world.store.add("cand", f1=0.8, created_second=5, model=candidate_model)
    world.evaluator.probabilities[id(champion_model)] = _probabilities(champion_correct)
    world.evaluator.probabilities[id(candidate_model)] = _probabilities(candidate_correct, candidate_first)
    return world


def test_promote_refuses_a_candidate_clearly_worse_than_the_champion_on_the_same_rows():
    world = _world_with_champion(champion_correct=190, candidate_correct=160)
    outcome = world.promote(world.dataset)
    assert outcome.candidate.fingerprint == "cand"
    assert outcome.previous_champion is not None
    assert outcome.previous_champion.fingerprint == "champ"
    assert not outcome.decision.promote
    assert "may be worse than the champion" in outcome.decision.reasons[1]
    assert "95% CI" in outcome.decision.reasons[1]
    assert world.store.champion_fingerprint == "champ"


def test_promote_replaces_the_champion_with_a_clearly_better_candidate():
    world = _world_with_champion(champion_correct=160, candidate_correct=190)
    outcome = world.promote(world.dataset, "can")
    assert outcome.decision.promote
    assert outcome.decision.champion_f1 is not None
    assert outcome.decision.champion_f1 < outcome.decision.candidate_f1
    assert world.store.champion_fingerprint == "cand"


def test_a_better_classifier_whose_survival_forecasts_may_be_worse_is_not_promoted():
    from churnguard.domain.quality_gate import SurvivalComparison
    from churnguard.domain.uncertainty import Interval

    world = _world_with_champion(champion_correct=160, candidate_correct=190)
    world.evaluator.survival = SurvivalComparison(
        0.84, 0.86, Interval(-0.02, -0.035, -0.005), 0.090, 0.086, Interval(0.004, 0.001, 0.007)
    )
    outcome = world.promote(world.dataset, "can")
    assert not outcome.decision.promote
    assert outcome.decision.reasons[-1].startswith("survival vs champion: concordance 0.8400 vs 0.8600")
    assert world.store.champion_fingerprint == "champ"


def test_a_candidate_that_only_looks_better_by_noise_is_not_promoted():
    # right on one more churner overall, but on a different set of 20 of them: noise
    world = _world_with_champion(champion_correct=150, candidate_correct=151, candidate_first=20)
    outcome = world.promote(world.dataset)
    assert outcome.decision.candidate_f1 > outcome.decision.champion_f1  # type: ignore[operator]
    assert not outcome.decision.promote
    assert world.store.champion_fingerprint == "champ"


def test_a_candidate_identical_to_the_champion_on_every_row_is_promoted():
    world = _world_with_champion(champion_correct=180, candidate_correct=180)
    outcome = world.promote(world.dataset)
    assert outcome.decision.promote
    assert "difference +0.0000 (exact)" in outcome.decision.reasons[1]


def test_promoting_the_champion_again_changes_nothing():
    world = World()
    world.store.add("champ", f1=0.8)
    world.store.champion_fingerprint = "champ"
    outcome = world.promote(world.dataset, "champ")
    assert outcome.decision.promote
    assert "already the champion" in outcome.decision.reasons
    assert world.store.champion_switched_under_lock == []


def test_train_evaluate_and_promote_each_validate_the_file_they_are_given():
    world = World()
    trained = world.train.file("data.csv")
    assert trained.dataset is world.dataset
    report, _ = world.evaluate.file("data.csv")
    promoted = world.promote.file("data.csv", trained.version.fingerprint)
    assert report.fingerprint == promoted.candidate.fingerprint == trained.version.fingerprint
    assert world.validator.validated == ["data.csv"] * 3


def test_a_file_that_breaks_the_schema_stops_each_step_before_it_does_anything():
    violation = Violation("age", "must be an integer", ("abc",), (3,), 1)
    world = World(violations=[violation])
    for step in (world.train.file, world.evaluate.file, world.promote.file):
        with pytest.raises(InvalidDataset):
            step("data.csv")
    assert world.trainer.calls == []
    assert world.evaluator.calls == []
    assert world.store.versions == {}


def test_pipeline_runs_every_step_and_promotes_a_good_model():
    world = World()
    outcome = world.pipeline("data.csv")
    assert outcome.promotion.decision.promote
    assert world.store.champion_fingerprint == outcome.training.version.fingerprint
    assert [event for event, _ in world.tracker.events] == ["check", "training", "evaluation", "promotion"]
    assert ("evaluation", (outcome.training.version.fingerprint, "run-1")) in world.tracker.events


def test_pipeline_on_an_invalid_dataset_stops_before_training_and_stores_nothing():
    violation = Violation("age", "must be an integer", ("abc",), (3,), 1)
    world = World(violations=[violation])
    with pytest.raises(InvalidDataset) as raised:
        world.pipeline("data.csv")
    assert raised.value.violations == [violation]
    assert world.trainer.calls == []
    assert world.store.versions == {}
    assert world.tracker.events == []


def test_pipeline_with_a_weak_model_stores_it_but_refuses_promotion():
    world = World(trainer_metrics={**HOLDOUT_METRICS, "f1": 0.6})
    world.evaluator.default_probability = [0.9, 0.1, 0.9, 0.1]  # F1 0.5 at threshold 0.4
    outcome = world.pipeline("data.csv")
    assert not outcome.promotion.decision.promote
    assert len(world.store.versions) == 1
    assert world.store.champion_fingerprint is None


def test_training_stops_before_the_search_when_the_tracker_is_down():
    world = World()
    world.tracker.available = False
    with pytest.raises(TrackingUnavailable, match="down"):
        world.train(world.dataset)
    assert world.trainer.calls == []
    assert world.store.versions == {}
