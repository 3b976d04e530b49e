# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API server's Warning headers, kept for the result instead of dropped.

The apiserver warns through `Warning: 299 - "text"` headers (RFC 7234 warn-codes): Pod Security
that a restored workload violates ("would violate PodSecurity"), deprecated API versions, unknown
fields. kubectl prints them; a restore of a thousand objects would print the same one a thousand
times, so they are kept once each, with a count and the first objects they concern.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import threading
from typing import Dict, List
from urllib.parse import unquote

# warn-code SP warn-agent SP quoted warn-text [SP warn-date]
WARNING = re.compile(r'^\s*(\d{3})\s+\S+\s+"((?:[^"\\]|\\.)*)"')
OBJECTS_KEPT = 10  # objects named per warning; the count says how many there were


def warning_texts(values):
    """The texts of Warning header values, unquoted; a value not in the header's form is kept as it is."""
    texts = []
    for value in values:
        found = WARNING.match(value)
        text = re.sub(r'\\(.)', r'\1', found.group(2)) if found else value.strip()
        if text:
            texts.append(text)
    return texts


def describe_request(method, path, body=None):
    """The object a request concerns, as a user names it: `deployments.apps web in shop`."""
    parts = [unquote(p) for p in path.split("?")[0].strip("/").split("/")]
    group = "" if parts[:1] == ["api"] else parts[1] if len(parts) > 1 else ""
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    namespace = None
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) > 2:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] if rest else "?"
    name = rest[1] if len(rest) > 1 else ((body or {}).get("metadata") or {}).get("name") if method == "POST" else None
    what = resource + ("." + group if group else "") + (" " + name if name else "")
    return what + (" in " + namespace if namespace else "")


class ApiWarnings:
    """Warnings of one client's requests, deduplicated by text; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen: Dict[str, Dict] = {}

    def add(self, texts, method, path, body=None):
        if not texts:
            return
        what = describe_request(method, path, body)
        with self._lock:
            for text in texts:
                entry = self._seen.setdefault(text, {"message": text, "count": 0, "objects": []})
                entry["count"] += 1
                if len(entry["objects"]) < OBJECTS_KEPT and what not in entry["objects"]:
                    entry["objects"].append(what)

    def summary(self) -> List[Dict]:
        """[{message, count, objects}], the most frequent first."""
        with self._lock:
            return sorted((dict(e, objects=list(e["objects"])) for e in self._seen.values()),
                          key=lambda e: (-e["count"], e["message"]))


def warning_lines(entries):
    """One Ansible warning per API warning."""
    return ["the API server warned %s: %s" % (
        "once" if e["count"] == 1 else "%d times" % e["count"], e["message"]) + (
        " (%s%s)" % (", ".join(e["objects"]), ", ..." if len(e["objects"]) >= OBJECTS_KEPT else "")
        if e["objects"] else "") for e in entries]
