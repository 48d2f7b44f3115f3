"""Hostile files and paths: output paths that are not regular files (FIFOs, device nodes,
sockets, symlinks to them, folders), stores that are not SQLite, outputs naming inputs,
huge / non-UTF-8 problem files, and problem sets that escape their folder, list
themselves or hold a broken entry. Every case is exit 2 with one line, and its ``check``
verifies that what was in the way is still there, untouched."""
import os
import socket
import sqlite3
import stat

from kit import RIDGE, Case

COMPARE = ("--solver", "gd", "--option", "max_iterations=5", "--no-baseline")
STORE = ("--store", "s.sqlite")


# -- makers (called with the path to create) ----------------------------------------------
def chr_node(path):
    """A character device node (1, 7 = /dev/full) inside the case's temporary folder."""
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 7))


def blk_node(path):
    os.mknod(path, stat.S_IFBLK | 0o600, os.makedev(7, 250))


def fifo(path):
    os.mkfifo(path)


def unix_socket(path):
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))


def link_to(target):
    return lambda path: os.symlink(target, path)


def folder(path):
    path.mkdir()


def sparse(size):
    def make(path):
        with open(path, "wb") as fh:
            fh.truncate(size)
    return make


def sqlite_store(path):
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (key TEXT)")
    db.commit()
    db.close()


# -- checks ---------------------------------------------------------------------------------
def still(name, test, *, absent=("s.sqlite",)):
    """``name`` is still what ``test`` (stat.S_ISFIFO, ...) says, and nothing in ``absent`` was created."""
    def check(folder_, got):
        mode = os.stat(folder_ / name).st_mode
        assert test(mode), f"{name} is no longer what it was: mode {oct(mode)}"
        for other in absent:
            assert not (folder_ / other).exists(), f"{other} was created: work ran before the refusal"
    return check


def unchanged(name, content, *, absent=("s.sqlite",)):
    def check(folder_, got):
        path = folder_ / name
        data = path.read_bytes() if isinstance(content, bytes) else path.read_text()
        assert data == content, f"{name} was modified"
        for other in absent:
            assert not (folder_ / other).exists(), f"{other} was created: work ran before the refusal"
    return check


def that(predicate, message):
    def check(folder_, got):
        assert predicate(folder_), message
    return check


def empty_folder(name):
    def check(folder_, got):
        assert (folder_ / name).is_dir() and not any((folder_ / name).iterdir()), f"{name} was written into"
        assert not (folder_ / "s.sqlite").exists()
    return check


NOTES = "my notes, not a database\n"
SET_OK = {"sets/ok.yaml": RIDGE, "outside.yaml": RIDGE}

CASES = [
    # ---- solve / baseline --json ----
    Case("paths-solve-json-char-device", {"p.yaml": RIDGE, "full": chr_node},
         ("solve", "p.yaml", "--solver", "gd", "--json", "full"), at="full:",
         contains=("--json", "character device", "allowed:"), check=still("full", stat.S_ISCHR)),
    Case("paths-solve-json-block-device", {"p.yaml": RIDGE, "loop": blk_node},
         ("solve", "p.yaml", "--solver", "gd", "--json", "loop"), at="loop:",
         contains=("block device",), check=still("loop", stat.S_ISBLK)),
    Case("paths-solve-json-fifo", {"p.yaml": RIDGE, "out.json": fifo},
         ("solve", "p.yaml", "--solver", "gd", "--json", "out.json"), at="out.json:",
         contains=("FIFO",), check=still("out.json", stat.S_ISFIFO)),
    Case("paths-solve-json-socket", {"p.yaml": RIDGE, "sock": unix_socket},
         ("solve", "p.yaml", "--solver", "gd", "--json", "sock"), at="sock:",
         contains=("socket",), check=still("sock", stat.S_ISSOCK)),
    Case("paths-solve-json-symlink-to-device", {"p.yaml": RIDGE, "full": chr_node, "out.json": link_to("full")},
         ("solve", "p.yaml", "--solver", "gd", "--json", "out.json"), at="out.json:",
         contains=("symlink to a character device",),
         check=that(lambda f: os.path.islink(f / "out.json") and stat.S_ISCHR(os.stat(f / "full").st_mode),
                    "the link or the node changed")),
    Case("paths-solve-json-dangling-symlink", {"p.yaml": RIDGE, "out.json": link_to("nowhere/x")},
         ("solve", "p.yaml", "--solver", "gd", "--json", "out.json"), at="out.json:",
         contains=("dangling",), check=that(lambda f: os.path.islink(f / "out.json") and not (f / "nowhere").exists(),
                                           "the dangling link was replaced or followed")),
    Case("paths-solve-json-folder", {"p.yaml": RIDGE, "out": folder},
         ("solve", "p.yaml", "--solver", "gd", "--json", "out"), at="out:",
         contains=("folder",), check=empty_folder("out")),
    Case("paths-solve-json-under-a-file", {"p.yaml": RIDGE, "notes.txt": NOTES},
         ("solve", "p.yaml", "--solver", "gd", "--json", "notes.txt/r.json"), at="notes.txt/r.json:",
         contains=("not a folder",), check=unchanged("notes.txt", NOTES)),
    Case("paths-solve-json-is-the-problem", {"p.yaml": RIDGE},
         ("solve", "p.yaml", "--solver", "gd", "--max-iterations", "3", "--json", "./p.yaml"), at="./p.yaml:",
         contains=("input",), check=unchanged("p.yaml", RIDGE)),
    Case("paths-baseline-json-fifo", {"p.yaml": RIDGE, "b.json": fifo},
         ("baseline", "p.yaml", "--json", "b.json"), at="b.json:",
         contains=("FIFO",), check=still("b.json", stat.S_ISFIFO)),
    # ---- compare --json / --store / --report ----
    Case("paths-compare-json-char-device", {"p.yaml": RIDGE, "full": chr_node},
         ("compare", "p.yaml", *COMPARE, *STORE, "--json", "full"), at="full:",
         contains=("--json", "character device"), check=still("full", stat.S_ISCHR)),
    Case("paths-compare-store-fifo", {"p.yaml": RIDGE, "s.fifo": fifo},
         ("compare", "p.yaml", *COMPARE, "--store", "s.fifo"), at="s.fifo:",
         contains=("--store", "FIFO"), check=still("s.fifo", stat.S_ISFIFO)),
    Case("paths-compare-store-char-device", {"p.yaml": RIDGE, "full": chr_node},
         ("compare", "p.yaml", *COMPARE, "--store", "full"), at="full:",
         contains=("--store", "character device"), check=still("full", stat.S_ISCHR)),
    Case("paths-compare-store-folder", {"p.yaml": RIDGE, "d": folder},
         ("compare", "p.yaml", *COMPARE, "--store", "d"), at="d:",
         contains=("--store", "folder"), check=empty_folder("d")),
    Case("paths-compare-store-text-file", {"p.yaml": RIDGE, "notes.txt": NOTES},
         ("compare", "p.yaml", *COMPARE, "--store", "notes.txt"), at="notes.txt:",
         contains=("not a SQLite",), check=unchanged("notes.txt", NOTES)),
    Case("paths-compare-store-wal-is-a-fifo", {"p.yaml": RIDGE, "s.sqlite": sqlite_store, "s.sqlite-wal": fifo},
         ("compare", "p.yaml", *COMPARE, *STORE), at="s.sqlite:",
         contains=("s.sqlite-wal", "FIFO"), check=still("s.sqlite-wal", stat.S_ISFIFO, absent=())),
    Case("paths-compare-report-is-a-file", {"p.yaml": RIDGE, "rep": NOTES},
         ("compare", "p.yaml", *COMPARE, *STORE, "--report", "rep"), at="rep:",
         contains=("--report", "not a folder"), check=unchanged("rep", NOTES)),
    Case("paths-compare-report-index-is-a-fifo", {"p.yaml": RIDGE, "rep/index.html": fifo},
         ("compare", "p.yaml", *COMPARE, *STORE, "--report", "rep"), at="rep/index.html:",
         contains=("FIFO",), check=still("rep/index.html", stat.S_ISFIFO)),
    Case("paths-compare-json-is-the-store", {"p.yaml": RIDGE},
         ("compare", "p.yaml", *COMPARE, *STORE, "--json", "s.sqlite"), at="s.sqlite:",
         contains=("--json",), check=that(lambda f: not (f / "s.sqlite").exists(), "the compare ran")),
    Case("paths-compare-json-is-the-problem", {"p.yaml": RIDGE},
         ("compare", "p.yaml", *COMPARE, *STORE, "--json", "p.yaml"), at="p.yaml:",
         contains=("input",), check=unchanged("p.yaml", RIDGE)),
    # ---- report ----
    Case("paths-report-html-onto-a-file", {"s.sqlite": sqlite_store, "rep": NOTES},
         ("report", "s.sqlite", "--out", "rep"), at="rep:",
         contains=("--out", "not a folder"), check=unchanged("rep", NOTES, absent=())),
    Case("paths-report-csv-onto-the-store", {"s.sqlite": sqlite_store},
         ("report", "s.sqlite", "--format", "csv", "--out", "s.sqlite"), at="s.sqlite:",
         contains=("--out",), check=still("s.sqlite", stat.S_ISREG, absent=("s.sqlite/runs.csv",))),
    Case("paths-report-csv-onto-a-device", {"s.sqlite": sqlite_store, "dev.csv": chr_node},
         ("report", "s.sqlite", "--format", "csv", "--out", "dev.csv"), at="dev.csv:",
         contains=("character device",), check=still("dev.csv", stat.S_ISCHR, absent=())),
    Case("paths-report-store-is-text", {"runs.sqlite": NOTES},
         ("report", "runs.sqlite", "--out", "rep"), at="runs.sqlite:",
         contains=("not a SQLite",), check=unchanged("runs.sqlite", NOTES, absent=("rep",))),
    Case("paths-report-store-is-a-fifo", {"runs.sqlite": fifo},
         ("report", "runs.sqlite"), contains=("runs.sqlite", "FIFO"),
         check=still("runs.sqlite", stat.S_ISFIFO, absent=("report",))),
    # ---- what compare reads ----
    Case("paths-compare-huge-sparse-yaml", {"big.yaml": sparse(1_500_000_000)},
         ("compare", "big.yaml", *COMPARE, *STORE), at="big.yaml:1",
         contains=("larger than",), max_rss_mb=700, check=that(lambda f: not (f / "s.sqlite").exists(), "the compare ran")),
    Case("paths-compare-latin1-yaml", {"p.yaml": RIDGE.replace("name: ridge", "name: caf\xe9").encode("latin-1")},
         ("compare", "p.yaml", *COMPARE, *STORE), at="p.yaml:1", contains=("UTF-8",)),
    Case("paths-compare-utf16-yaml", {"p.yaml": RIDGE.encode("utf-16")},
         ("compare", "p.yaml", *COMPARE, *STORE), at="p.yaml:1", contains=("UTF-8", "UTF-16")),
    Case("paths-compare-binary-yaml", {"p.yaml": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8},
         ("compare", "p.yaml", *COMPARE, *STORE), at="p.yaml:1"),
    Case("paths-compare-fifo-problem", {"p.yaml": fifo},
         ("compare", "p.yaml", *COMPARE, *STORE), at="p.yaml:", contains=("FIFO",),
         check=still("p.yaml", stat.S_ISFIFO)),
    # ---- problem sets ----
    Case("paths-set-entry-outside", {**SET_OK, "sets/set.yaml": "name: s\nproblems:\n  - ok.yaml\n  - ../outside.yaml\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:4",
         contains=("problems[1]", "outside", "--allow-outside-set")),
    Case("paths-set-entry-symlink-escapes", {**SET_OK, "sets/in.yaml": link_to("../outside.yaml"),
                                             "sets/set.yaml": "name: s\nproblems:\n  - in.yaml\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:3", contains=("problems[0]", "outside")),
    Case("paths-set-entry-absolute", {**SET_OK, "sets/set.yaml": "name: s\nproblems:\n  - /etc/hostname\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:3", contains=("outside",)),
    Case("paths-set-entry-bad-yaml", {**SET_OK, "sets/sub/bad.yaml": RIDGE.replace("  x: {shape", "\tx: {shape"),
                                      "sets/set.yaml": "name: s\nproblems:\n  - ok.yaml\n  - sub/bad.yaml\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:4",
         contains=("problems[1]: sets/sub/bad.yaml:4:", "malformed YAML")),
    Case("paths-set-entry-is-a-folder", {**SET_OK, "sets/sub.yaml": folder,
                                         "sets/set.yaml": "name: s\nproblems:\n  - ok.yaml\n  - sub.yaml\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:4", contains=("problems[1]", "a folder")),
    Case("paths-set-entry-bad-override", {**SET_OK, "sets/set.yaml":
                                          "name: s\nproblems:\n  - {path: ok.yaml, set: {nope: 1}}\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:3", contains=("problems[0]", "nope")),
    Case("paths-set-lists-itself", {**SET_OK, "sets/set.yaml": "name: s\nproblems:\n  - ok.yaml\n  - ./set.yaml\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:4", contains=("itself",)),
    Case("paths-set-cycle-through-another-set",
         {**SET_OK, "sets/a.yaml": "name: a\nproblems:\n  - b.yaml\n", "sets/b.yaml": "name: b\nproblems:\n  - a.yaml\n"},
         ("compare", "sets/a.yaml", *COMPARE, *STORE), at="sets/a.yaml:3", contains=("problem set", "nest")),
    Case("paths-set-entry-fifo", {**SET_OK, "sets/pipe.yaml": fifo,
                                  "sets/set.yaml": "name: s\nproblems:\n  - pipe.yaml\n"},
         ("compare", "sets/set.yaml", *COMPARE, *STORE), at="sets/set.yaml:3", contains=("FIFO",),
         check=still("sets/pipe.yaml", stat.S_ISFIFO)),
]
