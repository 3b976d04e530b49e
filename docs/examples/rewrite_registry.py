"""A restore item action: pull images from a mirror, e.g. rewrite_registry.py docker.io mirror.example.com"""
import json
import sys

old, new = sys.argv[1], sys.argv[2]
print(json.dumps({"protocol": "lifeboat.k8s/item-action/v1", "kind": "RestoreItemAction",
                  "name": "rewrite-registry", "applies_to": {"resources": ["pods", "*.apps", "*.batch"]}}), flush=True)
for line in sys.stdin:
    item = json.loads(line)["item"]
    spec = item.get("spec", {})
    spec = spec.get("jobTemplate", {}).get("spec", spec)  # a CronJob's pods are one level deeper
    spec = spec.get("template", {}).get("spec", spec)  # a workload's pod template, or a Pod's own spec
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        if container.get("image", "").startswith(old + "/"):
            container["image"] = new + container["image"][len(old):]
    print(json.dumps({"item": item}), flush=True)
