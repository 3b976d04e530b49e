#!/usr/bin/env bash
# make lint: the collection's docsite as Galaxy and docs.ansible.com build it (antsibull-docs sphinx-init, then
# Sphinx with warnings as errors), so every module, role and playbook page renders without a warning.
# Offline: intersphinx cannot fetch docs.ansible.com's inventory here, so hack/docsite/offline_refs.py resolves
# the few Ansible docsite labels the generated pages use; any other unresolved reference still fails the build.
# Usage: hack/docsite.sh <build dir holding ansible_collections/lifeboat/k8s> (the site: <build dir>/docsite)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$1
site=$build/docsite
venv=$("$root/hack/venv.sh" tests/venvs/docs.txt)
export PATH=$venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$build
rm -rf "$site" && mkdir -p "$site"
antsibull-docs sphinx-init --use-current --fail-on-error --dest-dir "$site" --project lifeboat.k8s \
  --title "lifeboat.k8s" --html-short-title "lifeboat.k8s" lifeboat.k8s > "$site/init.log"
cat >> "$site/conf.py" <<CONF

# hack/docsite.sh: built offline; see hack/docsite/offline_refs.py.
import sys
sys.path.insert(0, "$root/hack/docsite")
intersphinx_mapping = {}
extensions.append("offline_refs")
CONF
if ! "$site/build.sh" > "$site/build.log" 2>&1; then
  grep -E "WARNING|ERROR" "$site/build.log" >&2 || tail -30 "$site/build.log" >&2
  echo "docsite: the build warned or failed (log: $site/build.log)" >&2
  exit 1
fi
pages=$(find "$site/build/html/collections/lifeboat/k8s" -name '*_module.html' -o -name '*_role.html' | wc -l)
echo "docsite: $pages module and role pages, no warnings ($site/build/html/collections/lifeboat/k8s/index.html)"
