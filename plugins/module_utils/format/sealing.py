# -*- coding: utf-8 -*-
# Copyright: lifeboat.k8s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Encryption at rest and authenticity of backups. No cryptography is made here.

Encryption is the age format (age-encryption.org/v1) through pyrage, a maintained binding
to the rage implementation: each file gets a random key wrapped for every X25519
recipient, and its data is ChaCha20-Poly1305 in 64 KiB chunks, each one authenticated
(the STREAM construction), so a truncated or altered file fails to decrypt. Why age: a
small, audited standard with a streaming API; public-key recipients let the hosts that
write backups hold no secret that can read one; and in an emergency `age -d -i key`
decrypts a file by hand. Data goes through an OS pipe to and from pyrage, so no
plaintext archive is ever written to disk.

Authenticity is HMAC-SHA256 (RFC 2104, Python's hmac) over the manifest's canonical
JSON. The manifest holds every file's SHA-256, so its signature covers the whole backup.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import json
import os
import threading

try:
    import pyrage
    from pyrage import x25519

    PYRAGE_IMPORT_ERROR = None
except ImportError as e:
    PYRAGE_IMPORT_ERROR = e

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import (
    InvalidInputError,
    LifeboatError,
    MissingLibraryError,
)

AGE_SUFFIX = ".age"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
MIN_SIGNING_KEY = 32


class SealError(LifeboatError):
    """A backup cannot be decrypted or its signature does not hold."""


def read_secret(inline, path, option):
    """An option's secret, given inline or as <option>_file; None if neither."""
    if inline and path:
        raise InvalidInputError("%s: give either %s or %s_file, not both" % (option, option, option))
    if path:
        try:
            with open(path, "r") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidInputError("%s_file: cannot read %s: %s" % (option, path, getattr(e, "strerror", None) or e))
    return inline


# ---------------------------------------------------------------- encryption

class Encryption:
    """How a backup's files are written and read: plain, or age-encrypted."""

    def __init__(self, recipients=(), identities=()):
        self.recipients = list(recipients)
        self.identities = list(identities)

    @classmethod
    def from_keys(cls, text, recipients_text=()):
        """text: encryption_key(_file), age identities (AGE-SECRET-KEY-1..., one per line, '#' comments as
        age-keygen writes them); recipients_text: encryption_recipients, age public keys (age1...)."""
        identities = []
        recipients_text = list(recipients_text or [])
        if not text and not recipients_text:
            return cls()
        _need_pyrage()
        for number, line in enumerate((text or "").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                identities.append(x25519.Identity.from_str(line))
            except pyrage.IdentityError:
                # Never echo the line: it may be a secret key with a typo.
                raise InvalidInputError("encryption_key: line %d is not an age secret key (AGE-SECRET-KEY-1..., as "
                                        "age-keygen writes it)" % number)
        if text and not identities:
            raise InvalidInputError("encryption_key: no age secret key (AGE-SECRET-KEY-1...) found")
        recipients = [i.to_public() for i in identities]
        for value in recipients_text:
            try:
                recipients.append(x25519.Recipient.from_str(str(value).strip()))
            except pyrage.RecipientError:
                raise InvalidInputError("encryption_recipients: %r is not an age public key (age1...)" % (value,))
        return cls(recipients, identities)

    @property
    def enabled(self):
        return bool(self.recipients)

    def describe(self):
        """What the manifest says about it (public keys only)."""
        if not self.enabled:
            return None
        return {"format": "age", "recipients": sorted(set(str(r) for r in self.recipients))}

    def writer(self, path):
        """A context manager giving a binary file object; what is written lands in path,
        encrypted if enabled."""
        if not self.enabled:
            return open(path, "wb")
        return _Pump(path, lambda src, out: pyrage.encrypt_io(src, out, self.recipients), encrypting=True,
                     what=path.rsplit("/", 1)[-1])


def open_sealed(path, description, identities, what):
    """A context manager reading a backup file: plain, or decrypted on the fly with the identities."""
    if not description:
        return open(path, "rb")
    if description.get("format") != "age":
        raise SealError("the backup is encrypted with %r, which this collection cannot read" % (
            description.get("format"),))
    if not identities:
        recipients = ", ".join(description.get("recipients") or ["unknown recipients"])
        raise SealError("encryption_key: the backup is encrypted (age, to %s); give encryption_key or "
                        "encryption_key_file with a matching secret key" % recipients)
    _need_pyrage()
    return _Pump(path, lambda src, dst: pyrage.decrypt_io(src, dst, identities), encrypting=False, what=what)


class _Pump:
    """pyrage on one end of an OS pipe, in a thread; the caller gets the other end. The pump's
    own error (a wrong key, a damaged chunk) wins over the caller's (it just saw the pipe end)."""

    def __init__(self, path, pump, encrypting, what):
        self.path, self.pump, self.encrypting, self.what = path, pump, encrypting, what
        self.failure = []

    def __enter__(self):
        read_fd, write_fd = os.pipe()
        self.ours = os.fdopen(write_fd if self.encrypting else read_fd, "wb" if self.encrypting else "rb")
        theirs = os.fdopen(read_fd if self.encrypting else write_fd, "rb" if self.encrypting else "wb")
        self.thread = threading.Thread(target=self._run, args=(theirs,), name="lifeboat-age", daemon=True)
        self.thread.start()
        return self.ours

    def _run(self, theirs):
        try:
            with theirs, open(self.path, "wb" if self.encrypting else "rb") as local:
                if self.encrypting:
                    self.pump(theirs, local)
                else:
                    self.pump(local, theirs)
        except BrokenPipeError:
            pass  # the reader stopped early; it reports why
        except Exception as e:  # pyrage's errors, OSError: reported in the caller's thread
            self.failure.append(e)

    def __exit__(self, exc_type, exc, traceback):
        self.ours.close()
        self.thread.join()
        if self.failure and (exc_type is None or issubclass(exc_type, Exception)):
            raise _pump_error(self.failure[0], self.what, self.encrypting)
        return False


def _pump_error(error, what, encrypting):
    if encrypting:
        return SealError("%s: encryption failed: %s" % (what, error))
    if "No matching keys" in str(error):
        return SealError("encryption_key: none of the given keys can decrypt %s (it was encrypted to other "
                         "recipients)" % what)
    return SealError("%s cannot be decrypted: %s (altered or truncated)" % (what, error))


def _need_pyrage():
    if PYRAGE_IMPORT_ERROR is not None:
        raise MissingLibraryError("pyrage>=1.2", PYRAGE_IMPORT_ERROR)


# ---------------------------------------------------------------- authenticity

class Signer:
    """HMAC-SHA256 over the manifest, keyed by signing_key(_file)."""

    def __init__(self, key):
        self.key = key

    @classmethod
    def from_text(cls, text):
        """signing_key(_file)'s text; None when no key is given."""
        if text is None:
            return None
        key = text.strip().encode("utf-8")
        if len(key) < MIN_SIGNING_KEY:
            raise InvalidInputError("signing_key: must be at least %d characters (e.g. openssl rand -base64 32), "
                                    "got %d" % (MIN_SIGNING_KEY, len(key)))
        return cls(key)

    @property
    def key_id(self):
        """Names the key without revealing it, so a mismatch can say 'another key'."""
        return hmac.new(self.key, b"lifeboat.k8s signing key id", hashlib.sha256).hexdigest()[:16]

    def sign(self, manifest):
        body = dict((k, v) for k, v in manifest.items() if k != "signature")
        return dict(body, signature={"algorithm": SIGNATURE_ALGORITHM, "key_id": self.key_id,
                                     "value": self._mac(body)})

    def check(self, manifest):
        """Raise unless the manifest carries a valid signature by this key."""
        signature = manifest.get("signature")
        name = manifest.get("name")
        if not isinstance(signature, dict) or not signature.get("value"):
            raise SealError("signing_key: backup %s is not signed; refusing it (only backups written with this "
                            "signing key are accepted)" % name)
        if signature.get("algorithm") != SIGNATURE_ALGORITHM:
            raise SealError("signing_key: backup %s is signed with %r, not %s; refusing it"
                            % (name, signature.get("algorithm"), SIGNATURE_ALGORITHM))
        body = dict((k, v) for k, v in manifest.items() if k != "signature")
        if not hmac.compare_digest(str(signature.get("value")), self._mac(body)):
            other = " (it names key %s, this key is %s)" % (signature.get("key_id"), self.key_id) \
                if signature.get("key_id") != self.key_id else ""
            raise SealError("signing_key: backup %s's signature does not match%s: it was altered or written by "
                            "someone else; refusing it" % (name, other))

    def _mac(self, body):
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hmac.new(self.key, canonical.encode("utf-8"), hashlib.sha256).hexdigest()
