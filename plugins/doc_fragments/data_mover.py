# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  data_mover:
    description:
      - Where volume data copies go, and how the data mover's Jobs reach them. The Jobs run in the PVC's
        namespace, one per volume at a time, with a Secret of their own (deleted with the Job) holding the storage
        key and the repository password; the identity needs C(create), C(get), C(list), C(patch) and C(delete) on
        C(jobs), C(secrets) and C(persistentvolumeclaims), and C(get) and C(list) on C(pods) and C(pods/log).
      - Each PVC has its own repository, C(<storage prefix>/volumes/<tool>/<namespace>/<pvc>), so its backups
        deduplicate against each other; restic encrypts it with the repository password and checks what it reads.
        A copy's record (tool, repository, snapshot id, bytes, files) is written next to them, under
        C(volumes/copies/), when the copy is complete.
    type: dict
    suboptions:
      tool:
        description:
          - The tool the Jobs run. C(restic) makes and restores lifeboat's copies. C(kopia) restores what Velero's data
            mover (C(velero backup create --snapshot-move-data)) or its file-system backup with the kopia uploader
            copied, from Velero's repository of the PVC's namespace, C(<storage prefix>/kopia/<namespace>/), with
            Velero's repository password (Secret C(velero/velero-repo-credentials), key C(repository-password), in
            the cluster Velero ran in; Velero's default is C(static-passw0rd)); it makes no copies.
          - Default C(restic); for M(lifeboat.k8s.object_restore), the tool that made the backup's copies.
        type: str
        choices: [kopia, restic]
      storage:
        description: The S3 location, C(s3://bucket/prefix).
        type: str
      endpoint_url:
        description:
          - The S3 endpoint as this module reaches it (empty for AWS S3).
          - I(endpoint_url), I(region), I(access_key) and I(secret_key) default to the E(AWS_ENDPOINT_URL) (or
            E(AWS_URL)), E(AWS_REGION) (or E(AWS_DEFAULT_REGION)), E(AWS_ACCESS_KEY_ID) and E(AWS_SECRET_ACCESS_KEY)
            environment variables (for M(lifeboat.k8s.object_restore), to its own S3 options).
        type: str
      pod_endpoint_url:
        description:
          - The S3 endpoint as the Jobs' pods reach it, when it differs from I(endpoint_url) (an in-cluster
            address, say). Default I(endpoint_url).
        type: str
      region:
        description: The bucket's region.
        type: str
      access_key:
        description: The S3 access key id; the Jobs get it through their Secret.
        type: str
      secret_key:
        description: The S3 secret key; the Jobs get it through their Secret.
        type: str
      repository_password:
        description:
          - The password that encrypts the repository. Lose it and the copies cannot be read.
          - Give this or I(repository_password_secret).
        type: str
      repository_password_secret:
        description: C(<secret name>/<key>) of a Secret in the PVC's namespace holding the repository password.
        type: str
      image:
        description:
          - The image the Jobs run; it needs the tool and a POSIX shell (with C(find), C(stat), C(du) and C(awk)).
          - Default the tool's official image, C(docker.io/restic/restic:0.18.0) or C(docker.io/kopia/kopia:0.22.3).
            Any image with restic 0.14 or later, or kopia 0.10 or later, and such a shell works.
        type: str
      resources:
        description:
          - "CPU, memory and ephemeral storage the Jobs' container requests and is limited to, as in a pod's
            C(resources) (for example C({requests: {cpu: 500m, memory: 256Mi}, limits: {memory: 1Gi}}))."
          - A namespace with a ResourceQuota on C(limits.*) or C(requests.*) admits no pod that does not state
            them, and a LimitRange may cap what it may state; the Jobs' pods must fit both. Checked before any Job
            starts (resource names, quantities, each request within its limit). Default none (the namespace's
            LimitRange defaults apply).
        type: dict
        suboptions:
          requests:
            description: C(cpu), C(memory), C(ephemeral-storage) quantities.
            type: dict
          limits:
            description: C(cpu), C(memory), C(ephemeral-storage) quantities.
            type: dict
      parallel_reads:
        description:
          - How many files each Job reads at once (restic's C(--read-concurrency), 0.16 and later; from 1 to 64).
            Default the tool's own (2). More helps volumes of many small files on storage that answers in parallel.
        type: int
      parallel_uploads:
        description:
          - How many connections each Job opens to the storage, to upload or download (restic's
            C(s3.connections), default 5; kopia's restore C(--parallel), default 8; from 1 to 64). Default the tool's
            own.
        type: int
      compression:
        description:
          - How the tool compresses what it uploads (restic's C(--compression), repository format 2).
            C(auto) is fast and skips what does not compress; C(off) saves CPU for data that is already compressed
            or encrypted; C(max) saves storage at the cost of CPU. Default the tool's own (C(auto)).
        type: str
        choices: [auto, "off", max]
"""
