"""The Dataflow deployment: image recipe, pinned versions, template metadata and the offline job plan."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PY = sys.executable


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _beam_version() -> str:
    out = subprocess.run(
        [PY, str(DEPLOY / "beam_version.py")], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _pins() -> dict[str, str]:
    pins = {}
    for line in (DEPLOY / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"deploy/requirements.txt: {line!r} is not an exact pin"
            pins[canonicalize_name(name)] = version
    return pins


# --- one Beam version ------------------------------------------------------------------


def test_beam_version_is_the_pyproject_pin_everywhere():
    version = _beam_version()
    specs = _pyproject()["dependencies"] + [
        s for extra in _pyproject()["optional-dependencies"].values() for s in extra
    ]
    beam_specs = [Requirement(s) for s in specs if Requirement(s).name == "apache-beam"]
    assert [str(r.specifier) for r in beam_specs if r.specifier] == [f"=={version}"]  # written once
    assert any("gcp" in r.extras for r in beam_specs)  # the gcp extra takes that version
    assert _pins()["apache-beam"] == version
    import apache_beam

    assert apache_beam.__version__ == version  # the tests ran on the Beam the image will run


@pytest.mark.parametrize(
    "deps",
    [
        '["apache-beam>=2.70"]',
        '["apache-beam==2.77.0"]\n[project.optional-dependencies]\ngcp = ["apache-beam[gcp]==2.76.0"]',
    ],
)
def test_beam_version_refuses_a_range_or_a_second_pin(tmp_path, deps):
    bad = tmp_path / "pyproject.toml"
    bad.write_text(f'[project]\nname = "x"\ndependencies = {deps}\n', encoding="utf-8")
    code = (
        f"import sys; sys.path.insert(0, {str(DEPLOY)!r}); import beam_version; "
        f"beam_version.beam_version(__import__('pathlib').Path({str(bad)!r}))"
    )
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0 and "must be pinned exactly once" in out.stderr


def test_dockerfile_is_one_launcher_and_worker_image_on_the_pinned_beam():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert (
        froms[-1] == "apache/beam_python3.11_sdk:${BEAM_VERSION}"
    )  # the final image is the SDK image
    assert re.search(
        r"^ARG BEAM_VERSION\s*$", text, flags=re.MULTILINE
    )  # no default: comes from pyproject
    assert any(
        f.startswith("gcr.io/dataflow-templates-base/python311-template-launcher-base:")
        for f in froms
    )
    assert "/opt/google/dataflow/python_template_launcher" in text
    assert re.search(
        r'^ENV FLEX_TEMPLATE_PYTHON_PY_FILE="\$\{WORKDIR\}/main.py"', text, flags=re.MULTILINE
    )
    assert 'ENTRYPOINT ["/opt/apache/beam/boot"]' in text
    assert "pip install --no-cache-dir -r deploy/requirements.txt" in text
    assert "pip install --no-cache-dir --no-deps ." in text
    assert (
        "RUN python deploy/freeze_requirements.py --check" in text
    )  # the image has exactly the pins
    for copied in re.findall(r"^COPY (?!--from)(\S+)", text, flags=re.MULTILINE):
        assert (ROOT / copied).exists(), (
            f"Dockerfile copies {copied}, which is not in the repository"
        )
    # The Python the image runs is the one pyproject allows.
    assert "3.11" in _pyproject()["requires-python"] and "python3.11" in froms[-1]


def test_cloud_build_passes_the_beam_version_to_the_dockerfile():
    text = (DEPLOY / "cloudbuild.yaml").read_text(encoding="utf-8")
    assert (
        "--build-arg=BEAM_VERSION=${_BEAM_VERSION}" in text and "--file=deploy/Dockerfile" in text
    )
    makefile = (DEPLOY / "Makefile").read_text(encoding="utf-8")
    assert "BEAM_VERSION := $(shell $(PY) deploy/beam_version.py)" in makefile
    assert "_BEAM_VERSION=$(BEAM_VERSION)" in makefile
    ignored = [
        line.strip()
        for line in (DEPLOY / ".gcloudignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ".venv/" in ignored and ".git" in ignored  # never upload the venv to Cloud Build
    docker = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    for copied in re.findall(r"^COPY (?!--from)(\S+)", docker, flags=re.MULTILINE) + [
        "deploy/Dockerfile"
    ]:
        assert not any(
            copied == p.rstrip("/") or copied.startswith(p.rstrip("/") + "/") for p in ignored
        ), copied


def test_requirements_pin_every_runtime_dependency_within_pyproject_ranges():
    pins = _pins()
    project = _pyproject()
    wanted = [
        Requirement(s) for s in project["dependencies"] + project["optional-dependencies"]["gcp"]
    ]
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in pins, (
            f"{req.name} is a runtime dependency but not pinned in deploy/requirements.txt"
        )
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} outside {req}"
        )
    dev_only = {
        canonicalize_name(Requirement(s).name) for s in project["optional-dependencies"]["dev"]
    }
    assert not dev_only & set(pins), "test tools do not belong in the worker image"


def _lock():
    """deploy/freeze_requirements.py, which reads requirements.lock (standard library only)."""
    import importlib.util

    path = DEPLOY / "freeze_requirements.py"
    spec = importlib.util.spec_from_file_location("freeze_requirements", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def test_requirements_are_the_image_set_of_the_lock():
    # deploy/requirements.txt is derived from requirements.lock, not from any venv.
    out = subprocess.run(
        [PY, str(DEPLOY / "freeze_requirements.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    lock = _lock()
    image = {e.name: e.version for e in lock.subset("image")}
    assert _pins() == image


def test_lock_pins_every_pyproject_requirement_within_its_range_with_hashes():
    lock = _lock()
    entries = {e.name: e for e in lock.read_lock()}
    project = _pyproject()
    build = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]
    groups = {"": project["dependencies"], "build": build["requires"]}
    groups |= project["optional-dependencies"]
    for group, specs in groups.items():
        for req in map(Requirement, specs):
            name = canonicalize_name(req.name)
            assert name in entries, f"{req} ({group or 'dependencies'}) is not in requirements.lock"
            assert req.specifier.contains(entries[name].version, prereleases=True), (
                f"{name}=={entries[name].version} in requirements.lock is outside {req}"
            )
    for entry in entries.values():
        assert "--hash=sha256:" in entry.text, f"{entry.name}: no hash in requirements.lock"
    # The lock names no index or file location: only names, versions and hashes.
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert not re.search(r"https?://|file:|--(extra-)?index-url|--find-links", text)


def test_demo_set_has_no_gcp_extra_and_no_dev_tools():
    lock = _lock()
    demo = {e.name for e in lock.subset("demo")}
    project = _pyproject()
    runtime = {canonicalize_name(Requirement(s).name) for s in project["dependencies"]}
    assert runtime <= demo
    extras_only = {
        canonicalize_name(Requirement(s).name)
        for extra in ("dev", "gcp")
        for s in project["optional-dependencies"][extra]
    } - runtime
    assert not extras_only & demo, sorted(extras_only & demo)
    assert "google-cloud-firestore" not in demo and "pytest" not in demo


# --- template metadata ------------------------------------------------------------------


def _option_fields() -> dict[str, object]:
    import argparse

    from pipeline.run.options import StorywatchOptions

    parser = argparse.ArgumentParser()
    StorywatchOptions._add_argparse_args(parser)
    return {a.dest: a.default for a in parser._actions if a.dest != "help"}


def _metadata() -> dict:
    import json

    return json.loads((DEPLOY / "metadata.json").read_text(encoding="utf-8"))


def test_metadata_is_a_valid_dataflow_template_metadata():
    from google.cloud.dataflow_v1beta3.types import TemplateMetadata

    text = (DEPLOY / "metadata.json").read_text(encoding="utf-8")
    metadata = TemplateMetadata.from_json(text, ignore_unknown_fields=False)  # unknown keys raise
    assert metadata.streaming and metadata.name == "storywatch"


def test_metadata_declares_every_option_once_with_help_and_regexes():
    params = _metadata()["parameters"]
    names = [p["name"] for p in params]
    assert len(names) == len(set(names))
    assert set(names) == set(_option_fields()), "deploy/metadata.json and StorywatchOptions differ"
    for p in params:
        assert p["label"].strip() and len(p["helpText"]) >= 20, p["name"]
        assert p["regexes"], f"{p['name']}: no validation regex"
        for rx in p["regexes"]:
            re.compile(rx)


# Values the launcher accepts (first) and refuses (second) for the parameters whose local
# default is wrong on Dataflow; every other option's default must pass its own regexes.
DATAFLOW_VALUES = {
    "ledger": (
        ["firestore://acme-news/storywatch", "firestore://acme-news/sw?database=alerts"],
        [
            "build/ledger.sqlite",
            "sqlite:///x.sqlite",
            "firestore://A/sw",
            "firestore://acme-news/a/b",
        ],
    ),
    "replay_feeds": ([""], ["seeds/feeds"]),
    "replay_articles": ([""], ["tests/data/labeled/dev.jsonl"]),
}


def test_metadata_regexes_accept_the_defaults_and_refuse_what_the_job_refuses():
    defaults = _option_fields()
    for p in _metadata()["parameters"]:
        name = p["name"]

        def ok(value: str, regexes: list[str] = p["regexes"]) -> bool:
            return all(re.search(rx, value) for rx in regexes)

        if name in DATAFLOW_VALUES:
            good, bad = DATAFLOW_VALUES[name]
            assert all(ok(v) for v in good), name
            assert not any(ok(v) for v in bad), name
        elif defaults[name] is not None:
            value = (
                str(defaults[name]).lower()
                if isinstance(defaults[name], bool)
                else str(defaults[name])
            )
            assert ok(value), f"{name}: default {value!r} fails its own regex"
    by_name = {p["name"]: p for p in _metadata()["parameters"]}
    assert not any(re.search(rx, "../etc/passwd") for rx in by_name["watchlists"]["regexes"])
    assert not any(re.search(rx, "-1") for rx in by_name["poll_interval_seconds"]["regexes"])


# --- the offline Dataflow job (make dataflow-plan) ---------------------------------------

STAGES = [
    "PollFeeds",
    "FetchFeeds",
    "ParseFeeds",
    "NormalizeArticles",
    "DedupeArticles",
    "MatchWatchlists",
    "TrackStorylines",
    "DecideAlerts",
    "DeliverAlerts",
]


def _make_var(name: str) -> str:
    match = re.search(
        rf"^{name} \?= (\S+)$", (DEPLOY / "Makefile").read_text(encoding="utf-8"), re.MULTILINE
    )
    assert match, f"deploy/Makefile has no {name} ?= setting"
    return match.group(1)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    import json

    out = tmp_path_factory.mktemp("plan") / "dataflow-job.json"
    # The same target `make dataflow-plan` runs, with no credentials and no network.
    run = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            "deploy/Makefile",
            "plan",
            f"PLAN_OUT={out}",
            f"PY={PY}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(out.parent), "NO_PROXY": "*"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(out.read_text(encoding="utf-8")), run.stdout


@pytest.mark.slow
def test_plan_is_a_streaming_job_on_streaming_engine_with_the_makefile_shape(plan):
    job = plan[0]["job"]
    assert job["type"] == "JOB_TYPE_STREAMING"
    env = job["environment"]
    assert env["version"]["job_type"] == "FNAPI_STREAMING"
    assert "enable_streaming_engine" in env["experiments"] and "use_runner_v2" in env["experiments"]
    assert env["sdkPipelineOptions"]["options"]["streaming"] is True
    (pool,) = env["workerPools"]
    assert pool["machineType"] == _make_var("MACHINE_TYPE")
    assert pool["numWorkers"] == int(_make_var("NUM_WORKERS"))
    assert pool["autoscalingSettings"]["maxNumWorkers"] == int(_make_var("MAX_WORKERS"))
    # Workers run the one image (launcher = worker); the plan names a placeholder of the same shape.
    assert pool["workerHarnessContainerImage"].endswith("/storywatch:plan")
    assert env["sdkPipelineOptions"]["options"]["ledger"].startswith("firestore://")


@pytest.mark.slow
def test_plan_contains_every_stage_of_the_graph_in_order(plan):
    from pipeline.run.dataflow import top_level_steps

    transforms = plan[0]["pipeline"]["components"]["transforms"]
    names = {t["uniqueName"] for t in transforms.values()}
    for stage in STAGES:
        assert stage in names, f"stage {stage} missing from the Dataflow job"
    top = top_level_steps(plan[0]["pipeline"])
    assert [s for s in top if s in STAGES] == STAGES
    assert "stages: " + " -> ".join(top) in plan[1]


def _map_fn(plan_json: dict, step_suffix: str):
    """The function of a beam.Map step, unpickled from the job (what the workers will run)."""
    import base64

    from apache_beam.internal import pickler
    from apache_beam.portability.api import beam_runner_api_pb2

    (transform,) = [
        t
        for t in plan_json["pipeline"]["components"]["transforms"].values()
        if t["uniqueName"].endswith(step_suffix)
    ]
    payload = beam_runner_api_pb2.ParDoPayload.FromString(
        base64.b64decode(transform["spec"]["payload"])
    )
    dofn = pickler.loads(payload.do_fn.payload)[0]
    return lambda element: dofn._fn(element)[0]  # beam.Map wraps fn as x -> [fn(x)]


@pytest.mark.slow
def test_every_stateful_step_is_keyed_as_intended(plan):
    import datetime as dt

    from pipeline.records import Article, FeedSource, Match
    from pipeline.run.dataflow import stateful_steps

    steps = {s["step"]: s for s in stateful_steps(plan[0]["pipeline"])}
    expected = {  # step -> (keying step, state names)
        "FetchFeeds/FetchDue/ParDo(_FetchFn)": (
            "FetchFeeds/KeyByHost",
            ["host"],
        ),
        "DedupeArticles/DedupeByUrl/DropSeen": (
            "DedupeArticles/DedupeByUrl/KeyByShard",
            ["seen"],
        ),
        "DedupeArticles/DedupeByGuid/DropSeen": (
            "DedupeArticles/DedupeByGuid/KeyByShard",
            ["seen"],
        ),
        "DedupeArticles/DedupeByContent/DropSeen": (
            "DedupeArticles/DedupeByContent/KeyByShard",
            ["seen"],
        ),
        "TrackStorylines/TrackStoryline/ParDo(_TrackStorylineFn)": (
            "TrackStorylines/KeyByStoryline",
            ["storyline"],
        ),
    }
    assert set(steps) == set(expected), (
        "a stateful step was added or renamed: state its key here and in the README"
    )
    for name, (keyed_by, state) in expected.items():
        assert steps[name]["keyed_by"] == keyed_by and steps[name]["state"] == state, name
        # Dataflow needs a deterministic key encoding for state.
        assert steps[name]["input_coder"] == "beam:coder:kv:v1"
        assert steps[name]["key_coder"] == "beam:coder:string_utf8:v1", name

    # Run the key functions the job carries on real records.
    key_by_host = _map_fn(plan[0], "FetchFeeds/KeyByHost")
    bbc1 = FeedSource(feed_id="bbc-world", url="https://feeds.BBCI.co.uk/news/world/rss.xml")
    bbc2 = FeedSource(feed_id="bbc-uk", url="https://feeds.bbci.co.uk/news/uk/rss.xml")
    nyt = FeedSource(feed_id="nyt", url="https://rss.nytimes.com/services/xml/rss/nyt/US.xml")
    assert key_by_host(bbc1) == ("feeds.bbci.co.uk", (bbc1,))  # one politeness gate per host
    assert key_by_host(bbc2)[0] == key_by_host(bbc1)[0] != key_by_host(nyt)[0]

    t = dt.datetime(2024, 10, 25, 9, 0, tzinfo=dt.UTC)

    def article(i: str, url: str, title: str) -> Article:
        return Article(
            article_id=i,
            feed_id="f",
            url=url,
            canonical_url=url,
            title=title,
            summary="Elon Musk has been in regular contact with Vladimir Putin since late 2022.",
            published_at=t,
            first_seen_at=t,
            guid=f"guid-{i}",
        )

    a1 = article("1", "https://www.wsj.com/world/musk-putin", "Musk, Putin in secret talks")
    a2 = article(
        "2", "https://www.wsj.com/world/musk-putin", "Musk and Putin in secret talks (updated)"
    )
    key_by_url = _map_fn(plan[0], "DedupeByUrl/KeyByShard")
    k1, k2 = key_by_url(a1)[0], key_by_url(a2)[0]
    assert k1 == k2 and re.fullmatch(r"url:\d+", k1)  # same URL, same shard: the copy is found
    shards = {key_by_url(article(str(i), f"https://example.org/{i}", "x"))[0] for i in range(400)}
    assert len(shards) > 16  # spread over many keys, not one hot key

    key_by_storyline = _map_fn(plan[0], "TrackStorylines/KeyByStoryline")
    match = Match(article=a1, storyline_id="musk-kremlin-contacts", score=0.9, evidence=())
    assert key_by_storyline(match) == ("musk-kremlin-contacts", match)


@pytest.mark.slow
def test_plan_passes_config_paths_to_workers_as_absolute_paths(plan):
    options = plan[0]["job"]["environment"]["sdkPipelineOptions"]["options"]
    for name in ("watchlists", "feeds_file"):
        path = Path(options[name])
        assert path.is_absolute() and path.exists(), f"{name}={options[name]}"


# --- the launcher refuses what cannot work on Dataflow -----------------------------------


@pytest.mark.slow
def test_launcher_refuses_a_local_ledger_with_a_clear_error(tmp_path):
    out = subprocess.run(
        [
            PY,
            "-m",
            "pipeline.run.dataflow",
            "plan",
            f"--out={tmp_path / 'job.json'}",
            "--ledger=build/ledger.sqlite",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 2, out.stderr
    assert "--ledger=build/ledger.sqlite: on Dataflow the ledger must be shared" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "job.json").exists()


def test_the_launcher_refusing_a_postgres_ledger_does_not_print_its_password():
    from pipeline.errors import UserError
    from pipeline.run.dataflow import build

    with pytest.raises(UserError) as err:
        build(["--ledger=postgresql://sw:hunter2@db.internal:5432/sw"])
    assert "hunter2" not in str(err.value)
    assert str(err.value).startswith(
        "--ledger=postgresql://sw:***@db.internal:5432/sw: on Dataflow"
    )


def test_a_plan_never_submits_and_bad_cloud_options_are_user_errors():
    from pipeline.errors import UserError
    from pipeline.run.dataflow import build, with_plan_defaults

    argv = with_plan_defaults(["--runner=DataflowRunner", "--dry_run=False", "--project=acme-news"])
    assert "--dry_run=False" not in argv and argv.count("--dry_run=True") == 1
    assert "--project=acme-news" in argv and "--project=storywatch-plan" not in argv
    with pytest.raises(UserError, match="Invalid Project ID"):
        build(with_plan_defaults(["--project=p"]), config_base=ROOT)


def test_launcher_refuses_replays_and_an_empty_feed_list(tmp_path):
    from pipeline.errors import UserError
    from pipeline.run.dataflow import build, with_plan_defaults

    with pytest.raises(UserError, match="for local runs"):
        build(with_plan_defaults(["--replay_feeds=seeds/feeds"]), config_base=ROOT)
    empty = tmp_path / "feeds.yaml"
    empty.write_text("feeds: []\n", encoding="utf-8")
    with pytest.raises(UserError, match="no feeds to poll"):
        build(with_plan_defaults([f"--feeds_file={empty}"]), config_base=ROOT)


def _pubsub_reads(plan_json: dict) -> list[tuple[str, str]]:
    import base64

    from apache_beam.portability.api import beam_runner_api_pb2

    reads = []
    for t in plan_json["pipeline"]["components"]["transforms"].values():
        if t.get("spec", {}).get("urn") == "beam:transform:pubsub_read:v1":
            payload = beam_runner_api_pb2.PubSubReadPayload.FromString(
                base64.b64decode(t["spec"]["payload"])
            )
            reads.append((t["uniqueName"], payload.subscription))
    return reads


@pytest.mark.slow
def test_plan_reads_websub_pushes_from_pubsub_only_when_configured(plan, tmp_path):
    """The Dataflow path of WebSub (deploy/README.md): --websub_pubsub_subscription adds a
    Pub/Sub read whose RawFeeds are flattened with the polled ones before ParseFeeds."""
    import json

    from pipeline.run.dataflow import top_level_steps

    assert _pubsub_reads(plan[0]) == []  # the default job polls only
    out = tmp_path / "dataflow-job.json"
    subscription = "projects/acme-news/subscriptions/websub-pushes"
    run = subprocess.run(
        [
            PY,
            "-m",
            "pipeline.run.dataflow",
            "plan",
            f"--out={out}",
            f"--websub_pubsub_subscription={subscription}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_PROXY": "*"},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    job = json.loads(out.read_text(encoding="utf-8"))
    assert _pubsub_reads(job) == [("ReadWebSubPushes/ReadPubSub/Read", subscription)]
    top = top_level_steps(job["pipeline"])
    assert top.index("FetchFeeds") < top.index("ReadWebSubPushes") < top.index("PolledAndPushed")
    assert top.index("PolledAndPushed") < top.index("ParseFeeds")
    transforms = job["pipeline"]["components"]["transforms"].values()
    flatten = next(t for t in transforms if t["uniqueName"] == "PolledAndPushed")
    parse_inputs = {
        pc
        for t in transforms
        if t["uniqueName"].startswith("ParseFeeds/")
        for pc in t.get("inputs", {}).values()
    }
    assert set(flatten["outputs"].values()) & parse_inputs


def test_launcher_refuses_the_local_websub_callback(tmp_path):
    from pipeline.errors import UserError
    from pipeline.run.dataflow import build, with_plan_defaults

    with pytest.raises(UserError, match="websub_pubsub_subscription"):
        build(
            with_plan_defaults(["--websub_callback_url=http://127.0.0.1:8089/websub"]),
            config_base=ROOT,
        )


def test_plan_passes_the_shared_config_folder_to_the_workers_and_refuses_a_local_one():
    from pipeline.errors import UserError
    from pipeline.run.dataflow import build, with_plan_defaults
    from pipeline.run.options import StorywatchOptions

    _, options = build(
        with_plan_defaults(["--config_uri=gs://acme-news/storywatch"]), config_base=ROOT
    )
    assert options.view_as(StorywatchOptions).config_uri == "gs://acme-news/storywatch"
    with pytest.raises(UserError, match="--config_uri=/srv/config: .*gs://BUCKET/PATH"):
        build(with_plan_defaults(["--config_uri=/srv/config"]), config_base=ROOT)


@pytest.mark.slow
def test_flex_template_entry_point_builds_the_job_from_another_directory(tmp_path):
    # What the launcher VM runs: python /template/main.py --param=value ...; here with
    # --dry_run so nothing is submitted, from a foreign cwd, config found via STORYWATCH_HOME.
    out = subprocess.run(
        [
            PY,
            str(DEPLOY / "main.py"),
            "--runner=DataflowRunner",
            "--dry_run=True",
            "--project=storywatch-plan",
            "--region=us-central1",
            "--temp_location=gs://storywatch-plan/temp",
            "--ledger=firestore://storywatch-plan/storywatch",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "STORYWATCH_HOME": str(ROOT),
            "PYTHONPATH": str(ROOT),
        },
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_docstring_examples():
    import doctest

    import pipeline.run.dataflow

    result = doctest.testmod(pipeline.run.dataflow)
    assert result.failed == 0 and result.attempted >= 1


@pytest.mark.slow
def test_update_check_flags_changes_that_would_lose_state(plan, tmp_path):
    import copy
    import json

    from pipeline.run.dataflow import update_problems

    old = plan[0]
    assert update_problems(old, old) == []
    renamed = copy.deepcopy(old)
    for t in renamed["pipeline"]["components"]["transforms"].values():
        if t["uniqueName"] == "TrackStorylines/TrackStoryline/ParDo(_TrackStorylineFn)":
            t["uniqueName"] = "TrackStorylines/TrackStorylineV2/ParDo(_TrackStorylineFn)"
    (problem,) = update_problems(old, renamed)
    assert (
        problem.startswith(
            "TrackStorylines/TrackStoryline/ParDo(_TrackStorylineFn): stateful step gone"
        )
        and "TRANSFORM_NAME_MAPPINGS" in problem
    )

    rekeyed = copy.deepcopy(old)
    components = rekeyed["pipeline"]["components"]
    (fetch,) = [
        t
        for t in components["transforms"].values()
        if t["uniqueName"].endswith("FetchDue/ParDo(_FetchFn)")
    ]
    pcoll = components["pcollections"][next(iter(fetch["inputs"].values()))]
    kv = components["coders"][pcoll["coderId"]]
    components["coders"][kv["componentCoderIds"][0]] = {"spec": {"urn": "beam:coder:bytes:v1"}}
    problems = update_problems(old, rekeyed)
    assert any("FetchDue" in p and "key_coder changed" in p for p in problems)

    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    (tmp_path / "new.json").write_text(json.dumps(renamed), encoding="utf-8")
    out = subprocess.run(
        [
            PY,
            "-m",
            "pipeline.run.dataflow",
            "update-check",
            str(tmp_path / "old.json"),
            str(tmp_path / "new.json"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "NOT updatable in place" in out.stdout
