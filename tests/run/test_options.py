"""StorywatchOptions: units in names, explicit local runner, overridable, no secrets."""

from __future__ import annotations

from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

from pipeline.run.options import StorywatchOptions, pipeline_options, runner_name


def test_defaults_and_the_explicit_local_runner():
    options = pipeline_options([])
    sw = options.view_as(StorywatchOptions)
    assert runner_name(options) == "FnApiRunner"  # never the Prism download
    assert sw.poll_interval_seconds is None and sw.tick_seconds == 5.0  # floors: the feed list
    assert sw.ledger.endswith(".sqlite") and sw.alerts_out.endswith(".jsonl")
    assert sw.coverage_alerts is False and sw.console_alerts is True
    assert sw.replay_feeds is None and sw.replay_articles is None


def test_runner_and_values_are_overridable():
    options = pipeline_options(
        [
            "--runner=BundleBasedDirectRunner",
            "--poll_interval_seconds=15",
            "--coverage_alerts=true",
            "--console_alerts=no",
            "--burst_min_articles=9",
            "--ledger=sqlite:///tmp/x.sqlite",
        ]
    )
    sw = options.view_as(StorywatchOptions)
    assert options.view_as(StandardOptions).runner == "BundleBasedDirectRunner"
    assert (sw.poll_interval_seconds, sw.coverage_alerts, sw.console_alerts) == (15.0, True, False)
    assert sw.tracker_tunables()["burst_min_articles"] == 9
    assert sw.ledger == "sqlite:///tmp/x.sqlite"


def _declared() -> list[tuple[tuple[str, ...], dict]]:
    """(flags, keyword arguments) of every StorywatchOptions option, as declared."""
    declared = []

    class Recorder:
        def add_argument(self, *flags, **kwargs):
            declared.append((flags, kwargs))

    StorywatchOptions._add_argparse_args(Recorder())
    return declared


def test_every_numeric_option_names_its_unit_and_none_carries_a_secret():
    for _flags, kwargs in _declared():
        name = kwargs["dest"]
        assert kwargs.get("help"), name
        if kwargs.get("type") is float:
            assert name.endswith(("_seconds", "_hours", "_factor")), name
        if name == "secret_env":  # references to secrets (refused if a value is pasted), see below
            continue
        assert not any(word in name for word in ("token", "password", "webhook", "secret")), name


def test_every_option_is_kebab_case_with_beams_underscore_spelling_as_an_alias():
    for flags, kwargs in _declared():
        dest = kwargs["dest"]
        assert flags[0] == "--" + dest.replace("_", "-"), flags
        assert set(flags) == {"--" + dest.replace("_", "-"), "--" + dest}, flags


def _value(kwargs: dict) -> str:
    if kwargs.get("type") in (float, int):
        return "7"
    if kwargs["dest"] == "secret_env":
        return "DESK_HOOK=projects/acme/secrets/desk"
    if kwargs["dest"] == "websub_callback_url":
        return "http://127.0.0.1:8089/websub"
    if kwargs["dest"] == "websub_pubsub_subscription":
        return "projects/acme-news/subscriptions/websub"
    if kwargs.get("default") is True or kwargs.get("default") is False:
        return "false" if kwargs["default"] else "true"
    return "some/path"


def test_both_spellings_of_every_option_set_the_same_option():
    for flags, kwargs in _declared():
        dest, value = kwargs["dest"], _value(kwargs)
        seen = {
            flag: getattr(pipeline_options([f"{flag}={value}"]).view_as(StorywatchOptions), dest)
            for flag in flags
        }
        assert len(set(seen.values())) == 1, seen
        assert next(iter(seen.values())) != kwargs.get("default"), (dest, seen)
    # and as two arguments, as a shell passes `--poll-interval-seconds 7`
    sw = pipeline_options(["--poll-interval-seconds", "7", "--burst_factor", "3"]).view_as(
        StorywatchOptions
    )
    assert (sw.poll_interval_seconds, sw.burst_factor) == (7.0, 3.0)


def test_a_kebab_case_beam_option_is_an_error_that_names_beams_spelling():
    import pytest

    from pipeline.errors import UserError

    with pytest.raises(UserError) as err:
        pipeline_options(["--job-name=x", "--poll-interval-seconds=5"])
    assert err.value.problems == ["unknown pipeline option --job-name; Beam spells it --job_name"]
    assert pipeline_options(["--job_name=x"]).get_all_options()["job_name"] == "x"


def test_secret_env_takes_references_and_refuses_a_pasted_value_without_echoing_it():
    import pytest

    from pipeline.errors import UserError

    sw = pipeline_options(["--secret_env=DESK_HOOK=projects/acme/secrets/desk"]).view_as(
        StorywatchOptions
    )
    assert sw.secret_env == "DESK_HOOK=projects/acme/secrets/desk"
    with pytest.raises(UserError) as err:
        pipeline_options(["--secret_env=DESK_HOOK=https://hooks.slack.com/services/T0/B0/s3cr3t"])
    assert "s3cr3t" not in str(err.value) and "hooks.slack.com" not in str(err.value)


def test_options_survive_a_round_trip_through_pipeline_options():
    options = pipeline_options(["--alerts_out=out/a.jsonl", "--coverage_window_hours=12"])
    again = PipelineOptions.from_dictionary(options.get_all_options(drop_default=True))
    assert again.view_as(StorywatchOptions).coverage_window_hours == 12.0


def test_a_mistyped_option_is_a_user_error_not_a_silent_default():
    import pytest

    from pipeline.errors import UserError

    with pytest.raises(UserError) as err:
        pipeline_options(["--ledgr=x.sqlite", "--poll_interval_seconds=5"])
    assert err.value.problems == ["unknown pipeline option --ledgr; see --help for the options"]


def test_numbers_out_of_range_are_user_errors_before_beam_sees_them():
    import pytest

    from pipeline.errors import UserError

    # --run_duration_seconds=-5 used to end in a bare AssertionError from PeriodicImpulse.
    with pytest.raises(UserError) as err:
        pipeline_options(
            [
                "--run_duration_seconds=-5",
                "--poll_interval_seconds=nan",
                "--host_gap_seconds=-1",
                "--burst_min_articles=0",
            ]
        )
    assert err.value.problems == [
        "--poll_interval_seconds=nan: must be a number above 0",
        "--run_duration_seconds=-5: must be a number above 0",
        "--host_gap_seconds=-1: must be a number 0 or more",
        "--burst_min_articles=0: must be 1 or more",
    ]
    assert (
        pipeline_options(["--host_gap_seconds=0"]).view_as(StorywatchOptions).host_gap_seconds == 0
    )


def test_a_bad_switch_value_is_worded_for_the_user(capsys):
    import pytest

    with pytest.raises(SystemExit):
        pipeline_options(["--console_alerts=maybe"])
    assert (
        "argument --console-alerts/--console_alerts: invalid true/false value: 'maybe'"
        in capsys.readouterr().err
    )


def test_websub_options_give_a_config_and_bad_values_are_user_errors():
    import re

    import pytest

    from pipeline.errors import UserError

    sw = pipeline_options(["--websub-callback-url=http://127.0.0.1:8089/websub"]).view_as(
        StorywatchOptions
    )
    config = sw.websub_config()
    assert (config.callback_url, config.port, config.bind_host) == (
        "http://127.0.0.1:8089/websub",
        8089,
        "127.0.0.1",
    )
    tunnel = ["--websub-callback-url=https://tunnel.example/cb", "--websub-port=9000"]
    assert pipeline_options(tunnel).view_as(StorywatchOptions).websub_config().port == 9000
    assert pipeline_options([]).view_as(StorywatchOptions).websub_config() is None
    for argv, message in [
        (["--websub-callback-url=ftp://x/cb"], "must be an http(s) URL"),
        (["--websub-callback-url=https://tunnel.example/cb"], "give --websub-port"),
        (["--websub-callback-url=http://127.0.0.1:1/cb", "--websub-port=70000"], "port number"),
        (["--websub-lease-seconds=0"], "1 or more"),
        (["--websub-pubsub-subscription=websub"], "projects/PROJECT/subscriptions/NAME"),
    ]:
        with pytest.raises(UserError, match=re.escape(message)):
            pipeline_options(argv)
