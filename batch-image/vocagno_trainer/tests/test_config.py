"""Config validation: every problem named with its field, value and allowed range."""

from __future__ import annotations

import pytest

from vocagno_trainer.config import (
    RUN_FIELDS,
    ConfigError,
    changed_run_fields,
    load_config_argument,
    parse_config,
)


def test_defaults() -> None:
    config = parse_config({"student_model": "s3://bucket/tinyllama"})
    assert config.loss.keep_ratio == 0.4
    assert config.loss.unmapped == "include"
    assert config.loss.scope == "batch"


def test_unknown_field_rejected() -> None:
    with pytest.raises(ConfigError, match="keep_ratoi: unknown field"):
        parse_config({"student_model": "m", "keep_ratoi": 0.4})


def test_out_of_range_names_field_value_and_range() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"student_model": "m", "loss": {"keep_ratio": 1.5}, "sequence_length": 4})
    problems = raised.value.problems
    assert "loss.keep_ratio: Input should be less than or equal to 1 (got 1.5)" in problems
    assert "sequence_length: Input should be greater than or equal to 8 (got 4)" in problems


def test_unknown_choice_rejected() -> None:
    with pytest.raises(
        ConfigError, match=r"loss.scope: Input should be 'batch' or 'sequence' \(got 'global'\)"
    ):
        parse_config({"student_model": "m", "loss": {"scope": "global"}})


def test_warmup_longer_than_run_rejected() -> None:
    with pytest.raises(ConfigError, match=r"warmup_steps \(20\) must not exceed max_steps \(10\)"):
        parse_config({"student_model": "m", "max_steps": 10, "warmup_steps": 20})


def test_missing_student_rejected() -> None:
    with pytest.raises(ConfigError, match="student_model: Field required"):
        parse_config({})


def test_changed_run_fields_names_nested() -> None:
    stored = parse_config({"student_model": "m"})
    requested = parse_config({"student_model": "m", "loss": {"unmapped": "exclude"}, "log_interval_steps": 1})
    assert changed_run_fields(stored, requested) == ["loss.unmapped"]


def test_operational_fields_are_few() -> None:
    assert "learning_rate" in RUN_FIELDS
    assert "log_interval_steps" not in RUN_FIELDS


def test_config_argument_rejects_array() -> None:
    with pytest.raises(ConfigError, match="expected a JSON object, got list"):
        load_config_argument("[1]")


def test_fsdp_rejects_retained_graphs() -> None:
    with pytest.raises(ConfigError, match="loss.accumulation 'retain' .* use 'recompute' with 'fsdp'"):
        parse_config({"student_model": "m", "parallelism": "fsdp", "loss": {"accumulation": "retain"}})


def test_config_argument_reads_file_uri(tmp_path) -> None:
    path = tmp_path / "trainer-config.json"
    path.write_text('{"student_model": "s3://bucket/tinyllama", "max_steps": 7}', encoding="utf-8")
    raw = load_config_argument(path.as_uri())
    assert raw["max_steps"] == 7


def test_config_argument_missing_uri_names_it(tmp_path) -> None:
    missing = (tmp_path / "absent.json").as_uri()
    with pytest.raises(ConfigError, match="absent.json"):
        load_config_argument(missing)
