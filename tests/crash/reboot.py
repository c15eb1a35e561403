#!/usr/bin/env python3
"""What a POSIX-strict file system holds after a power cut (the "reboot" step).

    reboot.py [--mode=strict|kind] SNAPSHOT ROOT LOG
    reboot.py --serve      (one "MODE<tab>SNAPSHOT<tab>ROOT<tab>LOG" per line)

SNAPSHOT is a copy of the tree ROOT as it was before the run that crashsim
(crashsim.c) logged to LOG (its written bytes in LOG.data). The tree is
replayed on a model of inodes and directories from the snapshot and the log,
then ROOT's contents are replaced by what survives the cut:

  strict  (default) a file keeps its data and size as of its last fsync or
          fdatasync (the snapshot's when it had none): later writes and
          truncations are lost entirely. A directory keeps its entries as of
          its last fsync (the snapshot's when it had none): creates, renames,
          unlinks, mkdirs and rmdirs after it are undone. A directory made by
          mkdir survives only when its parent was fsynced after the mkdir, and
          then with the entries of its own last fsync (none without one). A
          rename is durable once its destination directory is fsynced (one
          fsync covers a rename within a directory); that fsync also retires
          the source name of a rename between two directories. An inode that
          no durable entry names is gone, whatever was synced of its data.
  kind    everything done before the cut survives (what a SIGKILL leaves: the
          page cache is kept). Rebuilding ROOT this way must reproduce it,
          which checks the model against the real file system.

Inodes are tracked by identity, not by name: an open file that is renamed
keeps its content, and a name created anew is a new inode even when the file
system reuses an inode number. fsync of a file makes its data and size durable,
never its name.
"""
import os
import shutil
import stat
import sys


def unescape(field):
    """Undoes crashsim's %XX escaping of names."""
    if "%" not in field:
        return field
    out = bytearray()
    raw = field.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw):
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


class Inode:
    """A file (data) or a directory (entries), current and durable."""

    def __init__(self, is_dir, mode):
        self.is_dir = is_dir
        self.mode = mode
        self.data = bytearray()
        self.durable_data = b""
        self.entries = {}
        self.durable_entries = {}


class Model:
    def __init__(self, snapshot):
        self.root = self.load(snapshot)
        self.by_ino = {}
        self.pending = []  # renames between directories: (src dir, src name, inode, dst dir)

    def load(self, path):
        st = os.lstat(path)
        node = Inode(stat.S_ISDIR(st.st_mode), stat.S_IMODE(st.st_mode))
        if node.is_dir:
            for name in sorted(os.listdir(path)):
                child = os.path.join(path, name)
                if os.path.islink(child):
                    raise SystemExit(f"reboot.py: {child}: symbolic links are not modelled")
                node.entries[name] = self.load(child)
            node.durable_entries = dict(node.entries)
        else:
            with open(path, "rb") as f:
                node.data = bytearray(f.read())
            node.durable_data = bytes(node.data)
        return node

    def parent_of(self, rel):
        """The directory inode holding rel's last component, and that name."""
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        if not parts:
            raise KeyError("the root has no parent in the tree")
        node = self.root
        for p in parts[:-1]:
            node = node.entries[p]
        return node, parts[-1]

    def lookup(self, rel):
        parts = [p for p in rel.split("/") if p not in ("", ".")]
        node = self.root
        for p in parts:
            node = node.entries[p]
        return node

    def inode(self, ino):
        if ino not in self.by_ino:
            raise SystemExit(f"reboot.py: inode {ino} was never opened under the root")
        return self.by_ino[ino]

    def apply(self, fields, data):
        kind = fields[0]
        if kind == "B":
            ino, name = int(fields[1]), unescape(fields[2])
            self.by_ino[ino] = self.lookup(name)
            return
        if kind != "E":
            return  # F (failed, no effect), C (the cut), T (the end)
        op, args = fields[2], fields[3:]
        if op in ("create", "mkdir"):
            ino, name = int(args[0]), unescape(args[1])
            mode = int(args[2]) if op == "create" else 0o700
            parent, base = self.parent_of(name)
            node = Inode(op == "mkdir", mode)
            parent.entries[base] = node
            self.by_ino[ino] = node
        elif op == "trunc":
            node, size = self.inode(int(args[0])), int(args[1])
            if size < len(node.data):
                del node.data[size:]
            else:
                node.data.extend(bytes(size - len(node.data)))
        elif op == "write":
            node = self.inode(int(args[0]))
            off, n, at = int(args[1]), int(args[2]), int(args[3])
            if len(node.data) < off:
                node.data.extend(bytes(off - len(node.data)))
            node.data[off:off + n] = data[at:at + n]
        elif op in ("fsync", "fdatasync"):
            node = self.inode(int(args[0]))
            if node.is_dir:
                node.durable_entries = dict(node.entries)
                keep = []
                for src, sname, moved, dst in self.pending:
                    if dst is node:
                        if src.durable_entries.get(sname) is moved:
                            del src.durable_entries[sname]
                    else:
                        keep.append((src, sname, moved, dst))
                self.pending = keep
            else:
                node.durable_data = bytes(node.data)
        elif op == "rename":
            src, sname = self.parent_of(unescape(args[0]))
            dst, dname = self.parent_of(unescape(args[1]))
            moved = src.entries.pop(sname)
            dst.entries[dname] = moved
            if src is not dst:
                self.pending.append((src, sname, moved, dst))
        elif op in ("unlink", "rmdir"):
            parent, base = self.parent_of(unescape(args[0]))
            del parent.entries[base]
        else:
            raise SystemExit(f"reboot.py: unknown event {op}")

    def write_tree(self, node, path, strict):
        """Writes node's children (as they survive) into the directory path."""
        entries = node.durable_entries if strict else node.entries
        for name, child in sorted(entries.items()):
            p = os.path.join(path, name)
            if child.is_dir:
                os.mkdir(p, 0o700)
                self.write_tree(child, p, strict)
                os.chmod(p, child.mode or 0o700)
            else:
                with open(p, "wb") as f:
                    f.write(child.durable_data if strict else child.data)
                os.chmod(p, (child.mode or 0o600) | 0o600)


def reboot(mode, snapshot, root, log):
    """Replaces root's contents by what survives the cut logged in log."""
    model = Model(snapshot)
    with open(log + ".data", "rb") as f:
        data = f.read()
    with open(log, "r", encoding="utf-8", errors="surrogateescape") as f:
        for number, line in enumerate(f, 1):
            fields = line.rstrip("\n").split("\t")
            try:
                model.apply(fields, data)
            except (KeyError, IndexError, ValueError) as e:
                raise SystemExit(f"reboot.py: {log}:{number}: cannot replay {line.strip()!r}: {e!r}")
    for name in os.listdir(root):
        p = os.path.join(root, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    model.write_tree(model.root, root, mode == "strict")


def serve():
    """One reboot per line of stdin ("MODE SNAPSHOT ROOT LOG", tab-separated),
    answered by "ok" or "error: why" on stdout: a test with hundreds of cut
    points then starts Python once."""
    for line in sys.stdin:
        try:
            mode, snapshot, root, log = line.rstrip("\n").split("\t")
            if mode not in ("strict", "kind"):
                raise SystemExit(f"reboot.py: unknown mode {mode}")
            reboot(mode, snapshot, root, log)
            print("ok", flush=True)
        except (SystemExit, OSError, ValueError) as e:
            print(f"error: {e}", flush=True)
    return 0


USAGE = "usage: reboot.py [--mode=strict|kind] SNAPSHOT ROOT LOG\n       reboot.py --serve\n"


def main(argv):
    args = argv[1:]
    if args == ["--serve"]:
        return serve()
    mode = "strict"
    if args and args[0].startswith("--mode="):
        mode = args.pop(0)[len("--mode="):]
    if mode not in ("strict", "kind") or len(args) != 3 or any(a.startswith("-") for a in args):
        sys.stderr.write(USAGE)
        return 64
    reboot(mode, *args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
