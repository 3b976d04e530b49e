# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The age secret key(s) of encrypted backups.
    ENCRYPTION_KEY = r"""
options:
  encryption_key:
    description:
      - Age secret keys (C(AGE-SECRET-KEY-1...)), one per line; lines starting with C(#) are ignored, so the
        file C(age-keygen) writes can be given as it is.
      - Backups are encrypted client-side in the age format (age-encryption.org/v1, X25519 and
        ChaCha20-Poly1305 through the C(pyrage) library); each file can also be decrypted by hand with
        C(age -d -i key.txt).
      - An encrypted backup cannot be restored without a matching key, and says so.
      - Can also be set with E(LIFEBOAT_ENCRYPTION_KEY). Never shown in results or logs.
    type: str
  encryption_key_file:
    description:
      - A file holding I(encryption_key), as C(age-keygen -o key.txt) writes it. Mutually exclusive with
        I(encryption_key).
      - Can also be set with E(LIFEBOAT_ENCRYPTION_KEY_FILE).
    type: path
"""

    # The HMAC key that signs backups.
    SIGNING_KEY = r"""
options:
  signing_key:
    description:
      - A secret of at least 32 characters (for example C(openssl rand -base64 32)) that signs the backup's
        manifest with HMAC-SHA256. The manifest holds the SHA-256 of every other file, so the signature covers
        the whole backup.
      - Given to M(lifeboat.k8s.object_restore), it is required; a backup that is unsigned, signed with
        another key or altered is refused before anything is restored.
      - Can also be set with E(LIFEBOAT_SIGNING_KEY). Never shown in results or logs.
    type: str
  signing_key_file:
    description:
      - A file holding I(signing_key). Mutually exclusive with I(signing_key).
      - Can also be set with E(LIFEBOAT_SIGNING_KEY_FILE).
    type: path
"""

    # S3 server-side encryption, with amazon.aws.s3_object's option names.
    SERVER_SIDE_ENCRYPTION = r"""
options:
  encryption_mode:
    description:
      - S3 server-side encryption of every file the backup writes, as in M(amazon.aws.s3_object), either
        C(AES256) (SSE-S3) or C(aws:kms) (SSE-KMS). Only with C(s3://) storage.
      - Independent of I(encryption_key); the two can be combined.
    type: str
    choices: [AES256, "aws:kms"]
  encryption_kms_key_id:
    description:
      - The KMS key for I(encryption_mode=aws:kms); the bucket's default key if not given.
    type: str
"""
