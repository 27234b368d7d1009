"""Credentials encrypted at rest, in ManageIQ's ``v2:{...}`` shape, using Fernet.

Takes: a key file (``$MIQSPEC_KEY_FILE``, else ``$MIQSPEC_HOME/v2_key``; ``MIQSPEC_HOME``
defaults to ``$XDG_DATA_HOME/miqspec`` or ``~/.local/share/miqspec``) holding one Fernet key
per line, newest first; plain or encrypted strings; a secret source (env variable, file, prompt).
Gives: ``KeyRing`` (encrypt, decrypt, try_decrypt, recrypt, rotate), ``key_file_lock`` (an
exclusive ``flock`` on ``<key file>.lock`` that serializes rotations across processes),
``is_encrypted``, ``sanitize`` (masks ``v2:{...}`` and its URL-encoded form), ``decrypt_values``
(an argument hash with its encrypted values decrypted) and ``read_secret``.
Raises: ``KeyRingError`` (key file missing, unsafe mode, invalid, or a value that does not
decrypt), ``KeyFileBusyError`` (the lock was not free within the timeout) and ``UsageError`` (no
secret available). Messages never contain secrets.
I/O: reads and writes the key file (created 0600 in a 0700 directory, replaced atomically) and
its lock file (0600); ``read_secret`` reads the environment and files.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from miqspec.errors import MASK, MiqspecError, UsageError

_ENCRYPTED = re.compile(r"v2:\{[^}]*\}")
_ENCRYPTED_URL = re.compile(r"v2%3A%7B.*?%7D", re.IGNORECASE)


class KeyRingError(MiqspecError):
    """The key file cannot be used, or a value does not decrypt with it."""

    exit_code = 11


class KeyFileBusyError(KeyRingError):
    """Another process held the key file lock (a rotation) for longer than the timeout."""


LOCK_TIMEOUT = 30.0  # seconds a rotation waits for another one to finish


def default_key_path() -> Path:
    """Where the key file lives when no path is given (see module docstring)."""
    if explicit := os.environ.get("MIQSPEC_KEY_FILE"):
        return Path(explicit).expanduser()
    if home := os.environ.get("MIQSPEC_HOME"):
        return Path(home).expanduser() / "v2_key"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data).expanduser() / "miqspec" / "v2_key"


def is_encrypted(text: object) -> bool:
    """True when ``text`` is a whole ``v2:{...}`` string."""
    return isinstance(text, str) and _ENCRYPTED.fullmatch(text) is not None


def sanitize(text: str) -> str:
    """Mask every ``v2:{...}`` and its URL-encoded form ``v2%3A%7B...%7D`` as ``********``."""
    return _ENCRYPTED_URL.sub(MASK, _ENCRYPTED.sub(MASK, text))


def _write_private(directory: Path, data: bytes) -> Path:
    """Write ``data`` to a new, unique 0600 file in ``directory`` and return its path."""
    tmp = directory / f".v2_key.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # not widened or narrowed by the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return tmp


@contextlib.contextmanager
def key_file_lock(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<path>.lock`` (created 0600, its directory 0700) while
    the block runs; wait up to ``timeout`` seconds for another holder, then raise
    ``KeyFileBusyError``. Advisory: only code that takes the lock is serialized."""
    lock = path.with_name(path.name + ".lock")
    try:
        lock.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise KeyRingError(f"cannot open key lock file {lock}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise KeyFileBusyError(
                        f"another key rotation holds {lock}; gave up after {timeout:g}s,"
                        " try again when it has finished"
                    ) from None
                time.sleep(0.05)
            except OSError as exc:
                raise KeyRingError(f"cannot lock key lock file {lock}: {exc.strerror}") from None
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)  # not widened by the umask, nor left wide by anyone else
        yield
    finally:
        os.close(fd)  # releases the lock


class KeyRing:
    """Fernet keys, newest first: encrypts with the newest, decrypts with any."""

    __slots__ = ("_fernet", "keys", "path")

    def __init__(self, keys: Sequence[bytes], path: Path | None = None) -> None:
        if not keys:
            raise KeyRingError(f"key file {path} holds no keys")
        self.keys: tuple[bytes, ...] = tuple(keys)
        self.path = path
        try:
            self._fernet = MultiFernet([Fernet(key) for key in self.keys])
        except ValueError:
            raise KeyRingError(f"key file {path} holds a line that is not a Fernet key") from None

    def __repr__(self) -> str:
        return f"KeyRing(path={str(self.path)!r}, keys={len(self.keys)})"

    @classmethod
    def load(cls, path: str | Path | None = None, create: bool = True) -> KeyRing:
        """Read the key file; create it with one new key when missing and ``create`` is set."""
        target = Path(path).expanduser() if path is not None else default_key_path()
        try:
            with open(target, "rb") as handle:
                mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
                if mode & 0o077:
                    raise KeyRingError(
                        f"key file {target} has mode {mode:04o}, readable by group or others; "
                        f"run: chmod 600 {target}"
                    )
                content = handle.read()
        except FileNotFoundError:
            if not create:
                raise KeyRingError(
                    f"key file {target} does not exist; put it back at that path (from your "
                    "backup), or set MIQSPEC_KEY_FILE to where it is"
                ) from None
            return cls._create(target)
        except OSError as exc:
            raise KeyRingError(f"cannot read key file {target}: {exc.strerror}") from None
        lines = (line.strip() for line in content.splitlines())
        keys = [line for line in lines if line and not line.startswith(b"#")]
        return cls(keys, target)

    @classmethod
    def _create(cls, target: Path) -> KeyRing:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = _write_private(target.parent, Fernet.generate_key() + b"\n")
        try:
            with contextlib.suppress(FileExistsError):  # another process won: use its file
                os.link(tmp, target)  # atomic and exclusive: never a half-written key file
        finally:
            tmp.unlink()
        return cls.load(target, create=False)

    def encrypt(self, plain: str) -> str:
        """Encrypt with the newest key, giving ``v2:{<fernet token>}``."""
        token = self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")
        return f"v2:{{{token}}}"

    def decrypt(self, text: str) -> str:
        """Decrypt a ``v2:{...}`` string with any key; raise ``KeyRingError`` otherwise."""
        if not is_encrypted(text):
            raise KeyRingError("value is not an encrypted v2:{...} string")
        try:
            return self._fernet.decrypt(text[4:-1].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            where = f" ({self.path})" if self.path else ""
            raise KeyRingError(f"cannot decrypt credential: wrong key{where} or tampered") from None

    def try_decrypt(self, text: str) -> str:
        """Decrypt ``v2:{...}`` strings; anything else passes through unchanged."""
        return self.decrypt(text) if is_encrypted(text) else text

    def try_encrypt(self, text: str) -> str:
        """Encrypt plain text; already-encrypted and empty strings stay as they are."""
        return text if not text or is_encrypted(text) else self.encrypt(text)

    def recrypt(self, text: str) -> str:
        """Decrypt with any key and encrypt again with the newest."""
        return self.encrypt(self.decrypt(text))

    def rotate(self) -> KeyRing:
        """Prepend a new key, replace the key file atomically (0600), return the new ring."""
        ring = KeyRing((Fernet.generate_key(), *self.keys), self.path)
        if self.path is not None:
            tmp = _write_private(self.path.parent, b"".join(key + b"\n" for key in ring.keys))
            try:
                os.replace(tmp, self.path)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise KeyRingError(f"cannot replace key file {self.path}: {exc.strerror}") from None
        return ring

    is_encrypted = staticmethod(is_encrypted)
    sanitize = staticmethod(sanitize)


def decrypt_values(node: Any, ring: Callable[[], KeyRing]) -> Any:
    """``node`` with every ``v2:{...}`` string in its (nested) mappings decrypted, as ManageIQ's
    UI may send passwords; ``ring`` is called for the key ring when the first one is found."""
    if isinstance(node, Mapping):
        return {k: decrypt_values(v, ring) for k, v in node.items()}
    if isinstance(node, str) and is_encrypted(node):
        return ring().decrypt(node)
    return node


MAX_SECRET_CHARS = 64 * 1024  # a secret file longer than this is not read (keys, tokens fit)


def read_secret(
    value_from_env_name: str | None, file: str | None, prompt: Callable[[], str] | None
) -> str:
    """Read a secret from an environment variable, a file or a prompt; never from argv.

    Give at most one of ``value_from_env_name`` and ``file``; ``prompt`` is used only when
    neither is given. A file loses one trailing newline; at most ``MAX_SECRET_CHARS`` of it are
    read (more is refused). Raises ``UsageError``.
    """
    if value_from_env_name and file:
        raise UsageError("give the secret from an environment variable or a file, not both")
    if value_from_env_name:
        value = os.environ.get(value_from_env_name)
        if value is None:
            raise UsageError(f"environment variable {value_from_env_name} is not set")
        source = f"environment variable {value_from_env_name}"
    elif file:
        try:
            with open(Path(file).expanduser(), encoding="utf-8", newline="") as handle:
                value = handle.read(MAX_SECRET_CHARS + 1)  # never more (/dev/zero has no end)
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise UsageError(f"cannot read secret file {file}: {reason}") from None
        if len(value) > MAX_SECRET_CHARS:
            raise UsageError(
                f"secret file {file} is longer than {MAX_SECRET_CHARS} characters (not a secret?)"
            )
        value = value.removesuffix("\n").removesuffix("\r") if value.endswith("\n") else value
        source = f"file {file}"
    elif prompt is not None:
        value = prompt()
        source = "the prompt"
    else:
        raise UsageError("no secret given: use an environment variable, a file or a terminal")
    if not value:
        raise UsageError(f"the secret from {source} is empty")
    return value
