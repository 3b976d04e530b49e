"""Sphinx extension for building the collection's docsite without network access.

The pages antsibull-docs writes link to a few labels of the Ansible docsite (the common return values, the
configuration settings, modules of collections shipped in the Ansible package). Online, intersphinx resolves
them from docs.ansible.com's inventory; offline that inventory cannot be fetched. This resolves exactly those
labels to their pages on docs.ansible.com and nothing else: any other reference that does not resolve, ours
included, stays a warning, and the build (-W) fails on it.
"""

from docutils import nodes

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
# label -> page (and anchor) on the Ansible docsite
ANSIBLE_LABELS = {
    "common_return_values": "reference_appendices/common_return_values.html#common-return-values",
    "ansible_configuration_settings": "reference_appendices/config.html#ansible-configuration-settings",
}
# Modules of collections in the Ansible package: ansible_collections.<namespace>.<name>.<plugin>_module
PACKAGED_COLLECTIONS = ("amazon.aws.", "kubernetes.core.", "ansible.builtin.")


def ansible_docsite_url(target):
    if target in ANSIBLE_LABELS:
        return ANSIBLE_DOCS + ANSIBLE_LABELS[target]
    prefix = "ansible_collections."
    if target.startswith(prefix) and target.endswith("_module"):
        fqcn = target[len(prefix):]
        if fqcn.startswith(PACKAGED_COLLECTIONS):
            namespace, name, plugin = fqcn.split(".", 2)
            return "%scollections/%s/%s/%s.html" % (ANSIBLE_DOCS, namespace, name, plugin)
    return None


def resolve(app, env, node, contnode):  # pylint: disable=unused-argument
    url = ansible_docsite_url(node.get("reftarget", ""))
    if url is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=url)
    reference.append(contnode)
    return reference


def setup(app):
    app.connect("missing-reference", resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
