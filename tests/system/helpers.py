"""Shared helpers for the system tests: run a module the way users do (the ansible CLI, as
its own process tree), and an independent oracle (kubectl, boto3) to check the outcome."""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

NEEDS_BED = pytest.mark.skipif(
    "KUBECONFIG" not in os.environ or "ANSIBLE_COLLECTIONS_PATH" not in os.environ,
    reason="needs the test bed and the built collection: make system")


# -vvv output as AWX keeps it, with each task's invocation (its module_args): ansible-core 2.21 leaves the invocation
# out of results unless ANSIBLE_INJECT_INVOCATION is on, earlier releases put it in always. The checks that no
# credential shows look at the worst case.
VVV_WITH_INVOCATION = {"ANSIBLE_STDOUT_CALLBACK": "default", "ANSIBLE_INJECT_INVOCATION": "true"}


def ansible_env(extra=None):
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="result_json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins"),
               ANSIBLE_HOST_KEY_CHECKING="0", ANSIBLE_NOCOLOR="1", ANSIBLE_DEPRECATION_WARNINGS="0",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    env.update(extra or {})
    return env


def module_command(module, args, check=False, verbosity=0):
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-c", "local",
           "-e", "ansible_python_interpreter=%s" % sys.executable,
           "-m", "lifeboat.k8s." + module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    return cmd


def parse_result(stdout):
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no result")


def run_module(module, args, check=False, env=None, timeout=600):
    """Run lifeboat.k8s.<module> with args (a dict); return its result dict."""
    res = subprocess.run(module_command(module, args, check), capture_output=True, text=True, timeout=timeout,
                         env=ansible_env(env), check=False)
    try:
        return parse_result(res.stdout)
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible gave no result:\n%s\n%s" % (res.stdout[-3000:], res.stderr[-3000:]))


def start_module(module, args, env=None):
    """Start a module run in the background, as its own process tree."""
    return subprocess.Popen(module_command(module, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ansible_env(env), start_new_session=True)


def finish(proc, timeout=600):
    stdout, stderr = proc.communicate(timeout=timeout)
    try:
        return parse_result(stdout)
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible gave no result:\n%s\n%s" % (stdout[-3000:], stderr[-3000:]))


def descendants(pid):
    """pid and every process below it (Ansible's worker calls setsid, so process groups are not enough)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def kill_tree(proc):
    """SIGKILL the whole process tree: a crash, with no chance to clean up."""
    for pid in descendants(proc.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.communicate(timeout=30)


def wait_for(check, timeout=120, what="condition", interval=0.05):
    """Poll check() until it is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def kubectl(*args, stdin=None, check=True):
    res = subprocess.run(["kubectl"] + list(args), capture_output=True, text=True, timeout=300, check=False,
                         input=stdin)
    if check:
        assert res.returncode == 0, res.stderr
    return res.stdout


def kubectl_json(*args):
    return json.loads(kubectl(*(list(args) + ["-o", "json"])))


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def create_namespace_with(namespace, objects):
    """Create a namespace and objects (dicts) in it with kubectl (one apply of a List)."""
    kubectl("create", "namespace", namespace)
    if objects:
        kubectl("apply", "-n", namespace, "--server-side", "-f", "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))


def configmaps(count, prefix="cm", data_bytes=0):
    items = []
    for i in range(count):
        meta = {"name": "%s-%04d" % (prefix, i), "labels": {"app": "faults"}}
        item = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"index": str(i)}}
        if data_bytes:  # random bytes: the archive does not compress them away
            item["binaryData"] = {"payload": base64.b64encode(os.urandom(data_bytes)).decode()}
        items.append(item)
    return items


def app_objects():
    """A small application: Deployment, Service, Secret, ServiceAccount, ConfigMaps."""
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                  "template": {"metadata": {"labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10"}],
                                        "terminationGracePeriodSeconds": 1}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": "s3cr3t"}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web"}},
    ] + configmaps(5, "conf")


def count(kind, namespace):
    return len(kubectl_json("get", kind, "-n", namespace)["items"])


def delete_namespaces(*names):
    for name in names:
        kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")


def s3_client():
    import boto3
    return boto3.client("s3", endpoint_url=os.environ["LIFEBOAT_S3_ENDPOINT"])


def s3_args(endpoint=None, prefix=None):
    return {"storage": "s3://%s/%s" % (os.environ["LIFEBOAT_S3_BUCKET"], prefix or unique("faults")),
            "endpoint_url": endpoint or os.environ["LIFEBOAT_S3_ENDPOINT"],
            "access_key": os.environ["AWS_ACCESS_KEY_ID"], "secret_key": os.environ["AWS_SECRET_ACCESS_KEY"],
            "region": os.environ["AWS_DEFAULT_REGION"]}
