"""Config files as users write them: defaults, shipped examples, and every kind of mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from obra_monitor.cli import main
from obra_monitor.config import (
    AlertRules,
    LoggingSettings,
    alert_rules_from_mapping,
    load_alert_rules,
    load_settings,
    resolve_log_path,
    settings_from_mapping,
)
from obra_monitor.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "app.yaml"
    path.write_text(text)
    return path


def test_defaults_match_the_seed_plan() -> None:
    settings = LoggingSettings()
    assert settings.enabled is True
    assert settings.path == Path.home() / "obra-runtime/logs/production.jsonl"
    assert settings.events.user_input and settings.events.errors
    assert not settings.events.orchestrator_prompts and not settings.events.implementer_responses
    assert settings.privacy.redact_pii and settings.privacy.redact_secrets
    assert settings.rotation.max_file_size_mb == 100 and settings.rotation.max_files == 10
    assert settings.async_logging is False and settings.buffer_size == 1024


def test_shipped_config_equals_the_defaults() -> None:
    assert load_settings(REPO / "config/config.yaml") == LoggingSettings()


def test_examples_from_the_seed_appendix_load(tmp_path: Path) -> None:
    debug = load_settings(REPO / "config/examples/debug.yaml")
    assert debug.events.orchestrator_prompts and debug.events.implementer_responses
    assert debug.privacy.redact_pii is False and debug.privacy.redact_secrets is True

    privacy = load_settings(REPO / "config/examples/privacy.yaml")
    assert privacy.privacy.redact_patterns == (r"\b\d{3}-\d{2}-\d{4}\b", r"\b\d{16}\b")

    assert load_settings(REPO / "config/examples/minimal.yaml") == LoggingSettings()


def test_whole_application_config_other_sections_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, """
llm: {provider: ollama, model: qwen}
monitoring:
  other_tool: {anything: 1}
  production_logging:
    path: ~/custom/prod.jsonl
    rotation: {max_file_size_mb: 0.001, max_files: 3}
""")
    settings = load_settings(path)
    assert settings.path == Path.home() / "custom/prod.jsonl"
    assert settings.rotation.max_file_size_mb == 0.001
    assert settings.max_file_bytes == 1048
    assert settings.events.user_input is True  # untouched keys keep their defaults


def test_missing_section_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "llm: {model: x}\n")) == LoggingSettings()
    assert load_settings(write(tmp_path, "")) == LoggingSettings()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("enabled: 'yes'", "monitoring.production_logging.enabled: expected true or false, got 'yes'"),
        ("rotation: {max_files: -3}", "rotation.max_files: expected a number at least 1, got -3"),
        ("rotation: {max_files: 2.5}", "rotation.max_files: expected a whole number, got 2.5"),
        ("rotation: {max_file_size_mb: 0}", "rotation.max_file_size_mb: expected a number greater than 0"),
        ("rotation: {max_file_size_mb: -1}", "max_file_size_mb: expected a number greater than 0, got -1"),
        ("rotation: {max_file_size_mb: '100MB'}", "max_file_size_mb: expected a number, got '100MB'"),
        ("rotation: {max_files: true}", "rotation.max_files: expected a whole number, got True"),
        ("rotation: [1, 2]", "production_logging.rotation: expected a mapping, got a list"),
        ("events: {user_inputs: true}", "events.user_inputs: unknown key (expected one of: user_input,"),
        ("colour: blue", "production_logging.colour: unknown key"),
        ("path: 42", "production_logging.path: expected a file path, got 42"),
        ("privacy: {redact_patterns: '[a-z]+'}", "redact_patterns: expected a list of regular expressions"),
        ("privacy: {redact_patterns: [ok, '(unclosed']}",
         "redact_patterns[1]: invalid regular expression '(unclosed'"),
        ("buffer_size: 0", "buffer_size: expected a number at least 1, got 0"),
    ],
)
def test_mistakes_name_the_key_and_what_was_expected(tmp_path: Path, section: str, message: str) -> None:
    path = write(tmp_path, f"monitoring:\n  production_logging:\n    {section}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="invalid YAML at line 2, column 24: mapping values are not allowed"):
        load_settings(write(tmp_path, "monitoring:\n  production_logging: a: b\n"))
    with pytest.raises(ConfigError, match="expected a mapping at the top level, got a list"):
        load_settings(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="monitoring: expected a mapping, got a string"):
        load_settings(write(tmp_path, "monitoring: fast\n"))


def test_section_as_a_dict_like_obra_passes_it() -> None:
    settings = settings_from_mapping({"enabled": False, "privacy": {"redact_pii": False}})
    assert settings.enabled is False and settings.privacy.redact_pii is False
    with pytest.raises(ConfigError, match="config: monitoring.production_logging.events: expected a mapping"):
        settings_from_mapping({"events": True})


def test_log_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path, "monitoring:\n  production_logging:\n    path: /srv/x.jsonl\n")
    monkeypatch.delenv("OBRA_MONITOR_CONFIG", raising=False)
    assert resolve_log_path("~/a.jsonl", str(config)) == Path.home() / "a.jsonl"
    assert resolve_log_path(None, str(config)) == Path("/srv/x.jsonl")
    assert resolve_log_path(None, None) == LoggingSettings().path
    monkeypatch.setenv("OBRA_MONITOR_CONFIG", str(config))
    assert resolve_log_path(None, None) == Path("/srv/x.jsonl")


def test_config_command_prints_effective_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "monitoring:\n  production_logging:\n    rotation: {max_files: 4}\n")
    assert main(["config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "max_files: 4" in out and "max_file_size_mb: 100.0" in out and "redact_pii: true" in out


def test_config_command_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "monitoring:\n  production_logging:\n    rotation: {max_files: -1}\n")
    done = subprocess.run(
        [sys.executable, "-m", "obra_monitor", "config", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"obra-monitor: {path}: monitoring.production_logging.rotation.max_files: "
        "expected a number at least 1, got -1"
    )


# -- monitoring.alerts (the TUI's alert rules) -------------------------------------------------


def test_shipped_alert_rules_equal_the_defaults() -> None:
    assert load_alert_rules(REPO / "config/config.yaml") == AlertRules()
    assert load_alert_rules(None) == AlertRules()
    rules = AlertRules()
    assert rules.window_minutes == 5 and rules.no_events_minutes is None and rules.bell is False


def test_alert_rules_read_from_a_whole_config_null_turns_a_rule_off(tmp_path: Path) -> None:
    path = write(tmp_path, """
monitoring:
  production_logging: {path: /srv/x.jsonl}
  alerts:
    error_rate_per_minute: 2.5
    nl_p95_ms: null
    no_events_minutes: 10
    bell: true
""")
    rules = load_alert_rules(path)
    assert rules.error_rate_per_minute == 2.5 and rules.nl_p95_ms is None
    assert rules.no_events_minutes == 10.0 and rules.bell is True
    assert rules.validation_failure_percent == 20.0  # untouched keys keep their defaults
    assert load_settings(path).path == Path("/srv/x.jsonl")  # the sections do not disturb each other
    assert load_alert_rules(write(tmp_path, "monitoring:\n  alerts:\n")) == AlertRules()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("nl_p95: 100", "monitoring.alerts.nl_p95: unknown key (expected one of: window_minutes,"),
        ("nl_p95_ms: '5s'", "monitoring.alerts.nl_p95_ms: expected a number (or null: off), got '5s'"),
        ("error_rate_per_minute: -1", "alerts.error_rate_per_minute: expected a number at least 0, got -1"),
        ("validation_failure_percent: true", "validation_failure_percent: expected a number (or null: off), got True"),
        ("no_events_minutes: 0", "alerts.no_events_minutes: expected a number greater than 0, got 0"),
        ("window_minutes: null", "alerts.window_minutes: expected a number, got None"),
        ("min_samples: 2.5", "alerts.min_samples: expected a whole number, got 2.5"),
        ("bell: 'yes'", "monitoring.alerts.bell: expected true or false, got 'yes'"),
    ],
)
def test_alert_rule_mistakes_name_the_key(tmp_path: Path, section: str, message: str) -> None:
    path = write(tmp_path, f"monitoring:\n  alerts:\n    {section}\n")
    with pytest.raises(ConfigError) as caught:
        load_alert_rules(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))
    with pytest.raises(ConfigError, match="monitoring.alerts: expected a mapping, got a list"):
        load_alert_rules(write(tmp_path, "monitoring:\n  alerts: [1]\n"))
    with pytest.raises(ConfigError, match="config: monitoring.alerts.bell"):
        alert_rules_from_mapping({"bell": 1})


def test_tui_and_config_commands_exit_2_on_a_bad_alerts_section(tmp_path: Path) -> None:
    path = write(tmp_path, "monitoring:\n  alerts:\n    nl_p95_ms: fast\n")
    for argv in (["tui", str(tmp_path / "x.jsonl"), "--config", str(path)], ["config", str(path)]):
        result = subprocess.run([sys.executable, "-m", "obra_monitor", *argv], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, argv
        assert result.stderr.strip() == (f"obra-monitor: {path}: monitoring.alerts.nl_p95_ms: expected a number "
                                          "(or null: off), got 'fast'")
        assert "Traceback" not in result.stderr


def test_config_command_prints_the_alert_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "monitoring:\n  alerts:\n    nl_p95_ms: null\n")
    assert main(["config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  alerts:\n    window_minutes: 5.0\n" in out and "nl_p95_ms: null" in out
