#!/usr/bin/env bash
# Writes integration_config.yml from the test bed's environment: ansible-test
# scrubs environment variables, so the targets get them as variables.
set -euo pipefail
cat <<YAML
---
kubeconfig: "${KUBECONFIG}"
kubeconfig_token: "${LIFEBOAT_KUBECONFIG_TOKEN}"
kubeconfig_exec: "${LIFEBOAT_KUBECONFIG_EXEC}"
s3_endpoint: "${LIFEBOAT_S3_ENDPOINT}"
s3_bucket: "${LIFEBOAT_S3_BUCKET}"
aws_access_key: "${AWS_ACCESS_KEY_ID}"
aws_secret_key: "${AWS_SECRET_ACCESS_KEY}"
aws_region: "${AWS_DEFAULT_REGION}"
ec2_endpoint: "${LIFEBOAT_EC2_ENDPOINT}"
ec2_access_key: "${LIFEBOAT_EC2_ACCESS_KEY_ID}"
ec2_secret_key: "${LIFEBOAT_EC2_SECRET_ACCESS_KEY}"
openstorage_endpoint: "${LIFEBOAT_OPENSTORAGE_ENDPOINT}"
openstorage_token: "${LIFEBOAT_OPENSTORAGE_TOKEN}"
openstorage_data: "${LIFEBOAT_OPENSTORAGE_DATA}"
csi_state_dir: "${LIFEBOAT_CSI_STATE_DIR}"
s3_pod_endpoint: "${LIFEBOAT_S3_POD_ENDPOINT}"
data_mover_image: "${LIFEBOAT_DATA_MOVER_IMAGE}"
dr_kubeconfig: "${LIFEBOAT_DR_KUBECONFIG}"
dr_storage_class: "${LIFEBOAT_DR_STORAGE_CLASS}"
dr_s3_pod_endpoint: "${LIFEBOAT_DR_S3_POD_ENDPOINT}"
kubectl: "$(command -v kubectl)"
YAML
