"""The data mover's pure logic: options, restic's logs, what a record read from a backup may point at, the
manifest's data copies. (The Jobs themselves run on the test bed: tests/system/test_data_mover.py.)"""

import re

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.format.archive import FORMAT_VERSION, ArchiveError
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.layout import files_of
from ansible_collections.lifeboat.k8s.plugins.module_utils.format.manifest import MANIFEST_FORMAT, Manifest, verify_copies
from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    ApiError,
    ConflictError,
    InvalidInputError,
    LifeboatError,
)
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.base import MoverConfig
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.copies import VolumeCopies, _empty_claim
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.jobs import MoverJob, object_name
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.kopia import KopiaMover
from ansible_collections.lifeboat.k8s.plugins.module_utils.datamover.restic import RESULT_MARK, ResticMover

from ..fake_cluster import FakeCluster

SNAPSHOT_ID = "cdea1f789b5aa83f4e222d809dfa3845b61333f0c04518952bc4a74b0a0a9e14"
OPTIONS = {"storage": "s3://bucket/prod", "repository_password": "pw", "access_key": "AK", "secret_key": "SK"}
# What restic 0.14's backup Job printed on the bed (status lines shortened).
BACKUP_LOG = "\n".join([
    "created restic repository 5569a25a9f at s3:http://10.254.77.1:58639/bucket/prod/volumes/restic/shop/data",
    '{"message_type":"status","percent_done":0,"total_files":1,"total_bytes":27}',
    '{"message_type":"summary","files_new":5,"files_changed":0,"files_unmodified":0,"dirs_new":1,"dirs_changed":0,'
    '"dirs_unmodified":0,"data_blobs":5,"tree_blobs":2,"data_added":502298,"total_files_processed":5,'
    '"total_bytes_processed":500000,"total_duration":0.35,"snapshot_id":"cdea1f78"}',
])


class FakeStore:
    url = "s3://bucket/prod"

    def __init__(self, keys=()):
        self.keys = set(keys)

    def exists(self, key):
        return key in self.keys


@pytest.mark.parametrize("options, message", [
    (dict(OPTIONS, storage="file:///backups"), r"^data_mover\.storage: the copies go to S3"),
    (dict(OPTIONS, repository_password=None), r"^data_mover\.repository_password or .*: give exactly one"),
    (dict(OPTIONS, repository_password_secret="restic/password"), r"give exactly one"),
    (dict(OPTIONS, repository_password=None, repository_password_secret="no-key"),
     r"^data_mover\.repository_password_secret: 'no-key' is not <secret name>/<key>"),
    (dict(OPTIONS, secret_key=None), r"^data_mover\.access_key and data_mover\.secret_key: give both"),
    (dict(OPTIONS, resources={"limits": {"gpu": 1}}),
     r"^data_mover\.resources\.limits: 'gpu' is not a resource the Jobs can ask for \(cpu, memory, ephemeral-storage\)"),
    (dict(OPTIONS, resources={"requests": {"memory": "lots"}}),
     r"^data_mover\.resources\.requests\.memory: 'lots' is not a Kubernetes quantity"),
    (dict(OPTIONS, resources={"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}),
     r"^data_mover\.resources\.requests\.cpu: 2 is more than its limit 500m"),
    (dict(OPTIONS, parallel_reads=0), r"^data_mover\.parallel_reads: 0 is not a whole number from 1 to 64"),
    (dict(OPTIONS, parallel_uploads=65), r"^data_mover\.parallel_uploads: 65 is not a whole number from 1 to 64"),
    (dict(OPTIONS, parallel_uploads=True), r"^data_mover\.parallel_uploads: True is not a whole number"),
    (dict(OPTIONS, compression="zstd"), r"^data_mover\.compression: 'zstd' is not one of auto, off, max"),
])
def test_bad_mover_options_name_the_option(options, message):
    with pytest.raises(InvalidInputError, match=message):
        MoverConfig(options)


def test_given_options_win_over_defaults_and_repositories_are_per_pvc():
    config = MoverConfig(dict(OPTIONS, endpoint_url=None), {"endpoint_url": "http://s3:9000", "storage": "s3://other"})
    assert (config.storage, config.endpoint_url, config.pod_endpoint_url) == (
        "s3://bucket/prod", "http://s3:9000", "http://s3:9000")
    assert config.repository_key("shop", "data") == "prod/volumes/restic/shop/data"
    assert config.copy_record_key("shop", "nightly-data") == "prod/volumes/copies/shop/nightly-data.json"
    assert ResticMover(config).repository_url("prod/volumes/restic/shop/data") == \
        "s3:http://s3:9000/bucket/prod/volumes/restic/shop/data"


def test_restic_logs_and_the_bucket_name_the_snapshot_and_failures_name_the_option():
    mover = ResticMover(MoverConfig(OPTIONS))
    assert mover.parse_backup(BACKUP_LOG) == {"snapshot_id": "cdea1f78", "bytes": 500000, "files": 5,
                                              "bytes_added": 502298, "tool_seconds": 0.35}
    keys = ["r/snapshots/" + SNAPSHOT_ID, "r/snapshots/cdea1f00" + "0" * 56, "r/snapshots/" + "1" * 64]
    assert mover.full_snapshot_id("cdea1f78", keys) == SNAPSHOT_ID
    assert mover.full_snapshot_id(SNAPSHOT_ID, []) == SNAPSHOT_ID  # newer restic names it whole
    with pytest.raises(ValueError, match="3 snapshots in the repository start with cdea1f"):
        mover.full_snapshot_id("cdea1f", keys + ["r/snapshots/cdea1f11" + "0" * 56])
    assert mover.parse_restore("progress: 12 KiB restored\n%s stats\n{\"bytes\": 500000, \"files\": 5}\n"
                               % RESULT_MARK) == {"bytes": 500000, "files": 5}
    with pytest.raises(ValueError):
        mover.parse_backup(BACKUP_LOG.rsplit("\n", 1)[0])
    assert mover.failure("Fatal: wrong password or no key found\n").startswith(
        "data_mover.repository_password: restic cannot open the repository")
    assert mover.failure("Fatal: unable to open config file: Stat: The AWS Access Key Id you provided does not "
                         "exist in our records.").startswith("data_mover.access_key: ")
    assert mover.failure("a\nb\nFatal: something else\n") == "restic failed: Fatal: something else"
    # restic's error lines wherever they are in the tail, not only its last lines
    assert mover.failure("Load(<lock/1>) returned error, retrying after 552ms: EOF\nFatal: unable to create lock: "
                         "EOF\nusage: restic ...\n  -h, --help\n  -q\n  -v\n  -r\n") == (
        "restic failed: Load(<lock/1>) returned error, retrying after 552ms: EOF / Fatal: unable to create lock: EOF")
    assert mover.failure("a\nb\n") == "restic failed: a / b"
    # restic 0.17 and later: a --json command's fatal error is a document; its message is what is said
    assert mover.failure('x\n{"message_type":"exit_error","code":1,"message":"Fatal: repository is already locked"}\n'
                         ) == "restic failed: Fatal: repository is already locked"


class JobCluster:
    """A Job whose pod was OOMKilled, as the API server and the kubelet report it: pure logic, no cluster."""

    def __init__(self, events=True):
        self.events = events

    def list(self, path, label_selector=None, field_selector=None, page_size=500):
        if path.endswith("/pods"):
            return [{"metadata": {"name": "lb-copy-1-abcde", "creationTimestamp": "2026-12-07T03:00:00Z"},
                     "status": {"containerStatuses": [{"name": "mover", "state": {"terminated": {
                         "reason": "OOMKilled", "exitCode": 137, "message": ""}}}]}}]
        if path.endswith("/events"):
            if not self.events:
                raise ApiError("GET %s: 403 forbidden" % path, status=403)
            name = field_selector.split("=", 1)[1]
            return [{"type": "Normal", "reason": "Scheduled", "message": "assigned to node",
                     "lastTimestamp": "2026-12-07T03:00:01Z", "involvedObject": {"name": name}},
                    {"type": "Warning", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified "
                     "backoff limit", "lastTimestamp": "2026-12-07T03:00:09Z"}] if name == "lb-copy-1" else []
        raise AssertionError(path)

    def request(self, method, path, query=None, raw=False, **_kw):
        assert path.endswith("/log") and raw
        return b"open repository\nFatal: unable to save snapshot: context canceled\n"


def test_a_failed_job_says_why_from_its_termination_its_events_and_its_log():
    job = MoverJob(JobCluster(), "shop", "lb-copy-1", "copy shop/x", {}, {}, None, True, "img")
    error = job._failed("its container exited with code 137")
    assert error.message == ("its container exited with code 137 (terminated: exit_code=137, reason=OOMKilled) "
                             "(events: Warning BackoffLimitExceeded: Job has reached the specified backoff limit)")
    told = error.details["mover_job"]
    assert told["pod"] == "lb-copy-1-abcde" and told["termination"] == {"reason": "OOMKilled", "exit_code": 137}
    assert told["events"][0] == "Normal Scheduled: assigned to node"
    assert "Fatal: unable to save snapshot" in told["log_tail"] and "Fatal" in error.log
    # Events the data mover's Role may not read leave the rest of the explanation.
    quiet = MoverJob(JobCluster(events=False), "shop", "lb-copy-1", "copy shop/x", {}, {}, None, True, "img")
    assert quiet._failed("x").details["mover_job"]["events"] == []


class RefusedCluster:
    """A Job whose pod the namespace's ResourceQuota refuses, as the Job controller reports it (FailedCreate)."""

    def __init__(self, message, event_of="job-uid-2"):
        self.message = message
        self.event_of = event_of  # the uid of the Job the event is about

    def get_or_none(self, path):
        return {"metadata": {"name": "lb-copy-1", "uid": "job-uid-2"}, "status": {}}

    def list(self, path, label_selector=None, field_selector=None, page_size=500):
        if path.endswith("/pods"):
            return []
        return [{"type": "Warning", "reason": "FailedCreate", "message": self.message,
                 "involvedObject": {"kind": "Job", "name": "lb-copy-1", "uid": self.event_of},
                 "lastTimestamp": "2026-12-07T03:00:01Z"}] if field_selector == "involvedObject.name=lb-copy-1" else []


@pytest.mark.parametrize("message,permanent", [
    ('Error creating: pods "lb-copy-1-x" is forbidden: failed quota: q: must specify limits.cpu for: mover', True),
    ('Error creating: pods "lb-copy-1-x" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi',
     True),
    ('Error creating: pods "lb-copy-1-x" is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, '
     'limited: pods=5', False),
])
def test_a_pod_the_namespace_refuses_as_it_is_fails_at_once_and_names_the_option(message, permanent):
    job = MoverJob(RefusedCluster(message), "shop", "lb-copy-1", "copy shop/x", {}, {}, None, True, "img", timeout=0.3)
    job.job_uid = "job-uid-2"
    with pytest.raises(LifeboatError) as failed:
        job._wait()
    if permanent:
        assert failed.value.message.startswith("data_mover.resources: the namespace refuses the Job's pod: " + message)
    else:  # may clear as other pods end: waited for until the timeout
        assert "Job shop/lb-copy-1 to finish" in failed.value.message


def test_an_earlier_jobs_refusal_does_not_fail_this_one():
    """A rerun's Job has the name of the failed run's: the old Job's FailedCreate events (kept for an hour) are not
    about this one."""
    old = 'Error creating: pods "lb-copy-1-x" is forbidden: failed quota: q: must specify limits.cpu for: mover'
    job = MoverJob(RefusedCluster(old, event_of="job-uid-1"), "shop", "lb-copy-1", "copy shop/x", {}, {}, None, True,
                   "img", timeout=0.3)
    job.job_uid = "job-uid-2"
    with pytest.raises(LifeboatError) as failed:
        job._wait()
    assert "Job shop/lb-copy-1 to finish" in failed.value.message and "must specify" not in failed.value.message


@pytest.mark.parametrize("snapshot_id", ["cdea1f78", "--help", "../../x", SNAPSHOT_ID.upper(), None, 7])
def test_snapshot_ids_from_storage_are_checked_before_they_reach_a_job(snapshot_id):
    mover = ResticMover(MoverConfig(OPTIONS))
    with pytest.raises(InvalidInputError, match="^data_copy.snapshot_id: "):
        mover.restore_container("prod/volumes/restic/shop/data", snapshot_id)


def record(repository="s3://bucket/prod/volumes/restic/shop/data", tool="restic", snapshot_id=SNAPSHOT_ID):
    return {"namespace": "shop", "name": "nightly-data", "source": {"namespace": "shop", "pvc": "data"},
            "data_copy": {"tool": tool, "repository": repository, "snapshot_id": snapshot_id, "files": 5}}


def test_a_record_may_only_point_at_its_own_pvcs_repository():
    copies = VolumeCopies(FakeCluster(), MoverConfig(OPTIONS), 60, store=FakeStore())
    copies.check_copy(record())
    for bad, message in [
            (record(repository="s3://bucket/prod/volumes/restic/bank/ledger"), r"^data_mover\.storage: the copy of "
                                                                               r"PVC shop/data is recorded at"),
            (record(repository="s3://elsewhere/volumes/restic/shop/data"), r"^data_mover\.storage: "),
            (record(tool="kopia"), r"^data_mover\.tool: the copy of shop/data was made with 'kopia'"),
            (record(snapshot_id="$(reboot)"), r"^data_copy\.snapshot_id: ")]:
        with pytest.raises(InvalidInputError, match=message):
            copies.check_copy(bad)


def test_an_empty_claim_keeps_what_the_application_asked_for_and_nothing_that_binds_it():
    pvc = {"metadata": {"name": "data", "namespace": "shop-copy", "labels": {"app": "db"},
                        "annotations": {"pv.kubernetes.io/bind-completed": "yes", "team": "a"}},
           "spec": {"storageClassName": "fast", "volumeName": "pv-1", "accessModes": ["ReadWriteOnce"],
                    "dataSource": {"kind": "VolumeSnapshot", "name": "s"}, "resources": {"requests": {"storage": "1Gi"}}}}
    claim = _empty_claim(pvc, SNAPSHOT_ID)
    assert claim["spec"] == {"storageClassName": "fast", "accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}
    assert claim["metadata"]["annotations"] == {"team": "a", "lifeboat.k8s/restored-from-copy": SNAPSHOT_ID}


def test_a_job_or_secret_of_the_same_name_that_is_not_ours_is_never_used():
    cluster = FakeCluster()
    cluster.add("", "namespaces", {"metadata": {"name": "shop"}})
    name = object_name("copy", "shop", "nightly-data")
    assert name == object_name("copy", "shop", "nightly-data") and name.startswith("lb-copy-") and len(name) == 24
    cluster.add("", "secrets", {"metadata": {"name": name, "namespace": "shop"}, "data": {}})
    job = MoverJob(cluster, "shop", name, "copy shop/nightly-data", {"command": ["true"]}, {"K": "v"}, "tmp",
                   True, "img", timeout=5)
    with pytest.raises(ConflictError, match="^Secret shop/%s exists and is not lifeboat's" % name):
        job.run()
    job.cleanup()
    assert cluster.named("", "secrets", "shop") == [name]  # not ours: left alone


def manifest(copies):
    files = dict((f, {"sha256": "0" * 64, "size": 1}) for f in files_of("b", False).values())
    return {"format": MANIFEST_FORMAT, "archive_format": FORMAT_VERSION, "name": "b", "phase": "Completed",
            "files": files,
            "namespaces": ["shop"], "counts": {}, "total_items": 0, "volume_snapshots": 1,
            "started_at": "2026-11-24T00:00:00Z", "completed_at": "2026-11-24T00:00:01Z", "source": {},
            "warnings": [], "errors": [], "data_copies": copies}


def test_the_manifests_data_copies_are_checked_and_verified_where_they_are():
    good = {"namespace": "shop", "pvc": "data", "tool": "restic", "snapshot_id": SNAPSHOT_ID,
            "repository": "s3://bucket/prod/volumes/restic/shop/data", "bytes": 1, "files": 1}
    assert Manifest.from_dict(manifest([good]), "b").data_copies == [good]
    for bad in (dict(good, snapshot_id="x"), dict(good, namespace="bank"), dict(good, repository="/etc")):
        with pytest.raises(ArchiveError, match="malformed data_copies"):
            Manifest.from_dict(manifest([bad]), "b")
    store = FakeStore(["volumes/restic/shop/data/config"])
    assert verify_copies(store, Manifest.from_dict(manifest([good]), "b")) == (
        "the data copy of PVC shop/data: s3://bucket/prod/volumes/restic/shop/data/snapshots/%s is missing"
        % SNAPSHOT_ID, [])
    store.keys.add("volumes/restic/shop/data/snapshots/" + SNAPSHOT_ID)
    assert verify_copies(store, Manifest.from_dict(manifest([good]), "b")) == (None, [])
    elsewhere = dict(good, repository="s3://other/volumes/restic/shop/data")
    assert verify_copies(store, Manifest.from_dict(manifest([elsewhere]), "b")) == (None, ["s3://other/volumes/restic/shop/data"])


def test_a_password_from_a_secret_is_read_by_the_container_and_never_copied_into_the_jobs_secret():
    config = MoverConfig(dict(OPTIONS, repository_password=None, repository_password_secret="restic/password"))
    copies = VolumeCopies(FakeCluster(), config, 60, store=FakeStore())
    job = copies._job("shop", "lb-copy-x", "copy", copies.mover.backup_container("r", False, "t"), "tmp", True)
    assert job.secret_data == {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK"}
    assert {"name": "RESTIC_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "restic", "key": "password"}}} in \
        job.container["env"]
    with_option = VolumeCopies(FakeCluster(), MoverConfig(OPTIONS), 60, store=FakeStore())
    assert with_option._job("shop", "j", "o", {"env": []}, None, True).secret_data["RESTIC_PASSWORD"] == "pw"


def test_the_jobs_ask_for_the_resources_given_and_nothing_when_none_is():
    given = {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"memory": "1Gi", "cpu": 1}}
    copies = VolumeCopies(FakeCluster(), MoverConfig(dict(OPTIONS, resources=given)), 60, store=FakeStore())
    job = copies._job("shop", "j", "o", copies.mover.backup_container("r", False, "t"), "tmp", True)
    assert job.container["resources"] == {"requests": {"cpu": "250m", "memory": "128Mi"},
                                          "limits": {"cpu": "1", "memory": "1Gi"}}
    plain = VolumeCopies(FakeCluster(), MoverConfig(OPTIONS), 60, store=FakeStore())
    assert "resources" not in plain._job("shop", "j", "o", {"env": []}, None, True).container


RESTIC_SAYS = "restic $* reads=${RESTIC_READ_CONCURRENCY:-} compression=${RESTIC_COMPRESSION:-}"


def run_script(container, tmp_path, tool="restic", says=RESTIC_SAYS, env=None):
    """A Job's script under sh, with a stand-in `tool` on PATH that echoes `says` (its arguments and the environment
    it was given), over a /data holding one 3-byte file."""
    import os
    import subprocess
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "file").write_text("xyz")
    fake = tmp_path / "bin" / tool
    fake.parent.mkdir(exist_ok=True)
    fake.write_text('#!/bin/sh\necho "%s"\n' % says)
    fake.chmod(0o755)
    variables = dict((e["name"], e["value"]) for e in container["env"])
    variables.update(env or {}, PATH="%s:%s" % (fake.parent, os.environ["PATH"]))
    script = container["command"][2].replace("/data", str(data))
    return subprocess.run(["sh", "-c", script], env=variables, capture_output=True, text=True, check=True).stdout


def test_tuning_reaches_restic_only_when_given(tmp_path):
    tuned = ResticMover(MoverConfig(dict(OPTIONS, parallel_reads=8, parallel_uploads=12, compression="off")))
    container = tuned.backup_container("prod/volumes/restic/shop/data", False, "snap")
    said = run_script(container, tmp_path)
    assert "backup --json --ignore-inode --host lifeboat --tag snap -o s3.connections=12 ." in said
    assert "reads=8 compression=off" in said
    container = tuned.restore_container("prod/volumes/restic/shop/data", SNAPSHOT_ID)
    said = run_script(container, tmp_path)
    assert "restore --verify --target %s -o s3.connections=12 %s" % (tmp_path / "data", SNAPSHOT_ID) in said
    plain = ResticMover(MoverConfig(OPTIONS))
    container = plain.restore_container("prod/volumes/restic/shop/data", SNAPSHOT_ID)
    said = run_script(container, tmp_path)
    assert "restore --verify --target %s %s reads= compression=" % (
        tmp_path / "data", SNAPSHOT_ID) in said


def empty_record():
    copy = {"tool": "restic", "repository": "s3://bucket/prod/volumes/restic/shop/data", "snapshot_id": None,
            "empty": True, "files": 0, "bytes": 0}
    return {"namespace": "shop", "name": "nightly-data", "snapshot_id": "snap-1",
            "source": {"namespace": "shop", "pvc": "data"}, "data_copy": copy}


def test_an_empty_volume_is_copied_as_a_record_and_restored_without_a_job():
    mover = ResticMover(MoverConfig(OPTIONS))
    log = "lifeboat-result: empty\n{\"files\": 0, \"bytes\": 0}\n"
    assert mover.parse_backup(log) == {"snapshot_id": None, "empty": True, "bytes": 0, "files": 0}
    cluster = FakeCluster()
    cluster.add("", "namespaces", {"metadata": {"name": "dr"}})
    copies = VolumeCopies(cluster, MoverConfig(OPTIONS), 5, store=FakeStore())
    claim = {"metadata": {"name": "data", "namespace": "dr"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    volume, created = copies.copy_in(empty_record(), claim)
    assert created is True and volume["pvc"] == "data"
    made = cluster.objects[("", "persistentvolumeclaims", "dr", "data")]
    assert made["metadata"]["annotations"]["lifeboat.k8s/restored-from-copy"] == "empty-snap-1"
    assert made["metadata"]["annotations"]["lifeboat.k8s/copy-restored"] == "true"
    assert cluster.named("batch", "jobs", "dr") == [], "nothing to download, no Job"
    assert copies.copy_in(empty_record(), claim)[1] is False, "a rerun finds it done"


def test_an_empty_copy_that_names_data_is_refused():
    copies = VolumeCopies(FakeCluster(), MoverConfig(OPTIONS), 60, store=FakeStore())
    copies.check_copy(empty_record())
    for field, value in (("snapshot_id", SNAPSHOT_ID), ("files", 3)):
        bad = empty_record()
        bad["data_copy"][field] = value
        with pytest.raises(InvalidInputError, match="^data_copy: the copy of PVC shop/data says it is empty"):
            copies.check_copy(bad)


KOPIA_ID = "2c9c47089aa625c529bb37d3f61f063a"  # the id Velero 1.18's data mover gave a kopia snapshot on the bed


def kopia_record(repository="s3://bucket/prod/kopia/shop"):
    return {"namespace": "shop", "name": "", "snapshot_id": KOPIA_ID, "source": {"namespace": "shop", "pvc": "data"},
            "data_copy": {"tool": "kopia", "repository": repository, "snapshot_id": KOPIA_ID, "bytes": 300003,
                          "files": None}}


def test_kopia_reads_veleros_repository_of_the_namespace_and_makes_no_copies():
    copies = VolumeCopies(FakeCluster(), MoverConfig(dict(OPTIONS, tool="kopia")), 60, store=FakeStore())
    assert copies.mover.repository_key("shop", "data") == copies.mover.repository_key("shop", "logs") == "prod/kopia/shop"
    assert copies.mover.image == "docker.io/kopia/kopia:0.22.3"
    copies.check_copy(kopia_record())
    for bad, message in [(kopia_record("s3://bucket/prod/kopia/bank"), r"^data_mover\.storage: the copy of PVC shop/data"),
                         (dict(kopia_record(), data_copy=dict(kopia_record()["data_copy"], snapshot_id="../x")),
                          r"^data_copy\.snapshot_id: '\.\./x' is not a kopia snapshot id")]:
        with pytest.raises(InvalidInputError, match=message):
            copies.check_copy(bad)
    with pytest.raises(InvalidInputError, match=r"^data_mover\.tool: kopia only restores copies Velero"):
        copies.require_copying()
    VolumeCopies(FakeCluster(), MoverConfig(OPTIONS), 60, store=FakeStore()).require_copying()
    with pytest.raises(InvalidInputError, match=r"^data_mover\.tool: kopia only restores"):
        copies.mover.backup_container("prod/kopia/shop", True, "snap")


def run_kopia_script(container, tmp_path):
    return run_script(container, tmp_path, "kopia", "kopia $* password=${KOPIA_PASSWORD:-}", {"KOPIA_PASSWORD": "pw"})


def test_the_kopia_job_connects_read_only_to_the_endpoint_the_pods_reach_and_restores_the_snapshot(tmp_path):
    mover = KopiaMover(MoverConfig(dict(OPTIONS, tool="kopia", pod_endpoint_url="http://10.254.77.1:25124",
                                        parallel_uploads=3)))
    said = run_kopia_script(mover.restore_container("prod/kopia/shop", KOPIA_ID), tmp_path)
    assert ("kopia repository connect s3 --readonly --no-persist-credentials --bucket bucket --prefix prod/kopia/shop/ "
            "--region us-east-1 --endpoint 10.254.77.1:25124 --disable-tls password=pw") in said
    assert "kopia snapshot restore --parallel 3 %s %s password=pw" % (KOPIA_ID, tmp_path / "data") in said
    assert mover.parse_restore(said) == {"bytes": 3, "files": 1}
    aws = KopiaMover(MoverConfig(dict(OPTIONS, tool="kopia")))
    said = run_kopia_script(aws.restore_container("prod/kopia/shop", KOPIA_ID), tmp_path)
    assert "--region us-east-1 password=pw" in said and "--parallel 8 " in said  # AWS S3 over TLS, kopia's default
    with pytest.raises(InvalidInputError, match=r"^data_mover\.pod_endpoint_url: kopia reaches S3 at"):
        KopiaMover(MoverConfig(dict(OPTIONS, tool="kopia", pod_endpoint_url="http://s3/path"))).restore_container(
            "prod/kopia/shop", KOPIA_ID)


@pytest.mark.parametrize("log, message", [
    ("error connecting to repository: unable to create format manager: invalid repository password",
     r"^data_mover\.repository_password: kopia cannot open the repository with this password \(Velero's is in "),
    ("error connecting to repository: repository not initialized in the provided storage",
     r"^data_mover\.storage: there is no kopia repository there"),
    ("Connected to repository.\nprogress: 4 KiB restored\nerror restoring: restore error: object not found",
     r"^kopia failed: error restoring: restore error: object not found$"),
])
def test_kopias_failures_name_the_option_to_fix(log, message):
    assert re.match(message, KopiaMover(MoverConfig(dict(OPTIONS, tool="kopia"))).failure(log))
