"""The session's working directory as a tree of relative paths, for
snapshots (snapshot.py, protocol.md 10.3): listed, read and written back
without ever following a symbolic link, so no path leads outside it.

Contract: the working directory is the current one (the executor's /work).
A path is relative, its components joined by "/" (check_path says what is
allowed). walk() lists the directories and regular files below it, in
sorted order, and names what it leaves out (symbolic links, devices,
fifos, sockets, paths check_path refuses such as names that are not
UTF-8, what lies past the limits).
open_read, make_dir and open_write go down the path one directory
descriptor at a time (O_NOFOLLOW at every step), so a symlink anywhere on
it is an error (ELOOP or ENOTDIR), never a way out; open_write creates the
directories on the way (0700) and the file (0600), and truncates an
existing regular file.
"""

import os
import stat

MAX_COMPONENT = 255             # bytes of one name (NAME_MAX)
MAX_PATH = 4096                 # bytes of a whole path (PATH_MAX)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def check_path(path):
    """None when path is a relative path this module accepts, else why not:
    a str of at most MAX_PATH UTF-8 bytes, no NUL, its "/"-separated
    components none of "", "." or "..", each at most MAX_COMPONENT bytes
    (so no leading "/", no "//", no trailing "/")."""
    if not isinstance(path, str):
        return "a path must be a string"
    try:
        size = len(path.encode("utf-8"))
    except UnicodeEncodeError:
        return "the path is not valid UTF-8"
    if size == 0 or size > MAX_PATH:
        return "the path is empty or longer than %d bytes" % MAX_PATH
    if "\0" in path:
        return "the path holds a NUL byte"
    if path.startswith("/"):
        return "the path is absolute"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return "the path has an empty, '.' or '..' component"
        if len(part.encode("utf-8")) > MAX_COMPONENT:
            return "a component is longer than %d bytes" % MAX_COMPONENT
    return None


def _descend(parts, create):
    """A descriptor of the directory parts lead to from the working
    directory (created on the way when create); the caller closes it."""
    fd = os.open(".", _DIR_FLAGS)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o700, dir_fd=fd)
                except FileExistsError:
                    pass
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_leaf(path, flags, create):
    parts = path.split("/")
    parent = _descend(parts[:-1], create)
    try:
        fd = os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     0o600, dir_fd=parent)
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(0, "not a regular file", path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_read(path):
    """The regular file at path, open for binary reading; OSError else."""
    return open(_open_leaf(path, os.O_RDONLY, False), "rb")


def open_write(path):
    """The file at path created or truncated, open for binary writing, its
    directories created; OSError when something on the way is not a
    directory or the leaf is not a regular file."""
    #  O_NONBLOCK: a fifo put there does not block the open (ENXIO instead)
    return open(_open_leaf(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, True), "wb")


def make_dir(path):
    """The directory at path, created with its parents; OSError when
    something on the way is not a directory."""
    os.close(_descend(path.split("/"), True))


class _Walk:

    def __init__(self, max_entries, max_depth):
        self.max_entries = max_entries
        self.max_depth = max_depth
        self.dirs = []
        self.files = []
        self.dropped = []
        self.stopped = False

    def entry(self, dir_fd, entry, path, depth):
        reason = check_path(path)
        if reason:
            self.dropped.append((path, reason))     # restore would refuse it
            return
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            return              # removed while we listed
        mode = info.st_mode
        if stat.S_ISREG(mode):
            self.files.append((path, info.st_size))
        elif stat.S_ISDIR(mode):
            if depth >= self.max_depth:
                self.dropped.append((path, "deeper than %d directories" % self.max_depth))
                return
            self.dirs.append(path)
            try:
                fd = os.open(entry.name, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                self.dropped.append((path, "the directory could not be read (%s)"
                                     % (exc.strerror or exc)))
                return
            try:
                self.directory(fd, path + "/", depth + 1)
            finally:
                os.close(fd)
        elif stat.S_ISLNK(mode):
            self.dropped.append((path, "a symbolic link: links are not kept"))
        else:
            self.dropped.append((path, "not a regular file or directory "
                                       "(a fifo, socket or device)"))

    def directory(self, fd, prefix, depth):
        try:
            with os.scandir(fd) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            self.dropped.append((prefix or ".", "the directory could not be listed (%s)"
                                 % (exc.strerror or exc)))
            return
        for entry in entries:
            if self.stopped:
                return
            if len(self.dirs) + len(self.files) >= self.max_entries:
                self.stopped = True
                self.dropped.append((prefix + entry.name,
                                     "it and what follows it: the snapshot keeps at "
                                     "most %d files and directories" % self.max_entries))
                return
            self.entry(fd, entry, prefix + entry.name, depth)


def walk(max_entries, max_depth):
    """(dirs, files, dropped) below the working directory: dirs the
    directories' paths, parents first; files (path, size) of the regular
    files; dropped (path, reason) of what is left out. At most max_entries
    dirs and files, max_depth directories deep."""
    walker = _Walk(max_entries, max_depth)
    fd = os.open(".", _DIR_FLAGS)
    try:
        walker.directory(fd, "", 0)
    finally:
        os.close(fd)
    return walker.dirs, walker.files, walker.dropped
