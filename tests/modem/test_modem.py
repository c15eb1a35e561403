#!/usr/bin/env python3
"""fotamodem against real servers, driven over its pseudo-terminal with pyserial.

Starts HTTP, HTTPS (a self-signed certificate made here with openssl) and FTP
(pyftpdlib) servers on 127.0.0.1 at free ports, plus a server that drops
mid-body and one that never answers; makes packages with the real mkdelta;
and checks the exact URC lines of every session, the image bytes and ATI.
Everything it starts is stopped at the end, also on failure.

Env: BIN (the tools), DATA (tests/data). Prints "N passed, M failed" last.
"""
import http.server
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import serial
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BIN", os.path.join(SRC, "build", "tools"))
DATA = os.environ.get("DATA", os.path.join(SRC, "tests", "data"))
FW = os.path.join(DATA, "firmware")
OLD = os.path.join(FW, "cityhub-7.27.0.bin")
NEW = os.path.join(FW, "cityhub-7.28.0.bin")
KEY = os.path.join(DATA, "keys", "ec-p256.pem")
PUB = os.path.join(DATA, "keys", "ec-p256.pub.pem")
PROJECT = "PYBRICKS-CITYHUB"
FROM, TO = "v4.0.0b4", "v4.0.0b5"
FTP_USER, FTP_PASS = "fota", "s3cret"


def q(kind, *args):
    """A +QIND: "FOTA" URC line."""
    return '+QIND: "FOTA","%s"' % kind + "".join(",%d" % a for a in args)


DOWNLOADING = [q("DOWNLOADING", p) for p in range(10, 101, 10)]
UPDATING = "<UPDATING rising to 100>"
SOME_DOWNLOADING = "<DOWNLOADING: tens rising, maybe none>"

# ---- servers -------------------------------------------------------------------


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the package directory; /half/NAME drops after half the body,
    /nolength/NAME sends the body without a Content-Length."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        for prefix in ("/half/", "/nolength/"):
            if self.path.startswith(prefix):
                path = os.path.join(self.server.root, self.path[len(prefix):])
                if not os.path.isfile(path):
                    self.send_error(404)
                    return
                with open(path, "rb") as f:
                    body = f.read()
                self.close_connection = True
                self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                if prefix == "/half/":
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                else:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(body)
                self.wfile.flush()
                return
        super().do_GET()

    def translate_path(self, path):
        return os.path.join(self.server.root, path.lstrip("/").split("?")[0])


class Servers:
    def __init__(self, root, tmp):
        self.root = root
        self.threads = []
        self.closers = []
        self.http_port = self._http(None)
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.cacert = cert
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.https_port = self._http(ctx)
        self.ftp_port = self._ftp()
        self.stall_port = self._stall()

    def _thread(self, target):
        t = threading.Thread(target=target, daemon=True)
        t.start()
        self.threads.append(t)

    def _http(self, ctx):
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.root = self.root
        if ctx:
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        self._thread(lambda: httpd.serve_forever(poll_interval=0.1))
        self.closers.append(lambda: (httpd.shutdown(), httpd.server_close()))
        return httpd.server_address[1]

    def _ftp(self):
        log = logging.getLogger("pyftpdlib")      # a handler keeps pyftpdlib from adding its own
        log.addHandler(logging.NullHandler())
        log.propagate = False
        auth = DummyAuthorizer()
        auth.add_user(FTP_USER, FTP_PASS, self.root, perm="elr")
        handler = type("Handler", (FTPHandler,), {"authorizer": auth, "auth_failed_timeout": 0.1})
        server = FTPServer(("127.0.0.1", 0), handler)
        stop = threading.Event()

        def run():
            while not stop.is_set():
                server.serve_forever(timeout=0.1, blocking=False, handle_exit=False)
            server.close_all()

        self._thread(run)
        self.closers.append(stop.set)
        return server.socket.getsockname()[1]

    def _stall(self):
        """Accepts connections and never answers."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.settimeout(0.1)
        stop = threading.Event()
        held = []

        def run():
            while not stop.is_set():
                try:
                    held.append(sock.accept()[0])
                except (socket.timeout, OSError):
                    pass
            for c in held:
                c.close()
            sock.close()

        self._thread(run)
        self.closers.append(stop.set)
        return sock.getsockname()[1]

    def stop(self):
        for close in self.closers:
            try:
                close()
            except Exception:
                pass
        for t in self.threads:
            t.join(5)


# ---- the module ------------------------------------------------------------------


class Modem:
    """fotamodem --pty on its own image; lines read with pyserial."""

    def __init__(self, workdir, *extra, image=None):
        self.image = image or os.path.join(workdir, "flash.bin")
        if not os.path.exists(self.image):
            shutil.copyfile(OLD, self.image)
        self.args = [os.path.join(BIN, "fotamodem"), "--pty", "--project", PROJECT, "--firmware",
                     FROM, "--image", self.image, "--pubkey", PUB, "--reboot-pause", "0.3",
                     "--timeout", "2", *extra]
        self.log = open(os.path.join(workdir, "fotamodem.log"), "ab")
        self.proc = None
        self.ser = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log)
        path = self.proc.stdout.readline().decode().strip()
        assert path.startswith("/dev/pts/"), "no pty path printed: %r" % path
        self.path = path
        self.open()

    def open(self):
        self.ser = serial.Serial(self.path, 115200, timeout=0.2)

    def close_line(self):
        self.ser.close()

    def send(self, cmd, end="\r"):
        self.ser.write((cmd + end).encode())

    def line(self, deadline):
        """The next non-empty line (without CR LF); AssertionError at the deadline."""
        buf = b""
        while time.monotonic() < deadline:
            buf += self.ser.readline()
            if buf.endswith(b"\n"):
                text = buf.decode(errors="replace").rstrip("\r\n")
                buf = b""
                if text:
                    return text
        raise AssertionError("timed out waiting for a line (partial %r)" % buf)

    def until(self, stop, timeout=30):
        """Lines up to and including the first for which stop(line) is true."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            got.append(self.line(deadline))
            if stop(got[-1]):
                return got

    def command(self, cmd, timeout=5):
        """Sends cmd; the lines up to OK or ERROR."""
        self.send(cmd)
        return self.until(lambda l: l in ("OK", "ERROR"), timeout)

    def fota(self, url, timeout=60):
        """AT+QFOTADL=url; every line up to the last URC of the session."""
        self.send('AT+QFOTADL="%s"' % url)
        return self.until(is_last, timeout)

    def kill(self):
        if self.ser:
            self.ser.close()
            self.ser = None
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait(10)
            self.proc.stdout.close()
        self.proc = None

    def stop(self):
        self.kill()
        self.log.close()


def is_last(line):
    if line in ("ERROR",) or line.startswith(q("END") + ","):
        return True
    for end, err in (("FTPEND", 601), ("HTTPEND", 701)):
        if line == q(end, err):
            return True
    return False


def match(got, expected):
    """Asserts got against expected, where UPDATING stands for UPDATING lines
    strictly rising to 100 and SOME_DOWNLOADING for DOWNLOADING tens rising."""
    i = 0
    for want in expected:
        if want == UPDATING:
            seen = []
            while i < len(got) and got[i].startswith(q("UPDATING") + ","):
                seen.append(int(got[i].rsplit(",", 1)[1]))
                i += 1
            assert seen and seen == sorted(set(seen)) and seen[-1] == 100 and seen[0] >= 1, \
                "UPDATING not rising to 100: %s\n got: %s" % (seen, got)
        elif want == SOME_DOWNLOADING:
            seen = []
            while i < len(got) and got[i].startswith(q("DOWNLOADING") + ","):
                seen.append(int(got[i].rsplit(",", 1)[1]))
                i += 1
            assert seen == list(range(10, 10 * len(seen) + 1, 10)), "DOWNLOADING %s" % seen
        else:
            assert i < len(got) and got[i] == want, \
                "line %d: want %r, got %r\n got: %s" % (i, want, got[i] if i < len(got) else None, got)
            i += 1
    assert i == len(got), "extra lines %s" % got[i:]


def same_file(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


# ---- the tests ----------------------------------------------------------------------


class Suite:
    def __init__(self, tmp, servers, pkgs):
        self.tmp = tmp
        self.s = servers
        self.pkgs = pkgs
        self.passed = 0
        self.failed = 0
        self.modems = []
        self.n = 0

    def modem(self, *extra, workdir=None):
        m = Modem(workdir or self.workdir, *extra)
        self.modems.append(m)
        return m

    def run(self, name, fn):
        self.n += 1
        self.workdir = os.path.join(self.tmp, "case%02d" % self.n)
        os.makedirs(self.workdir)
        t0 = time.monotonic()
        try:
            fn()
            self.passed += 1
            print("ok   %-52s %.1fs" % (name, time.monotonic() - t0), flush=True)
        except Exception as e:
            self.failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
            traceback.print_exc(limit=2)
            log = os.path.join(self.workdir, "fotamodem.log")
            if os.path.exists(log):
                sys.stdout.write("  fotamodem stderr:\n" + open(log).read())
        finally:
            for m in self.modems:
                m.stop()
            self.modems = []

    # -- the cases

    def untouched(self, m):
        assert same_file(m.image, OLD), "the image changed"
        assert not os.path.exists(m.image + ".fota"), "state left behind"
        assert not os.path.exists(m.image + ".download"), "download left behind"
        match(m.command("ATI"), ["fotamodem", PROJECT, "Revision: " + FROM, "OK"])

    def updated(self, m):
        assert same_file(m.image, NEW), "the image is not the target"
        assert not os.path.exists(m.image + ".fota"), "state left behind"
        assert not os.path.exists(m.image + ".download"), "download left behind"
        with open(m.image + ".version") as f:
            assert f.read() == TO + "\n"
        match(m.command("ATI"), ["fotamodem", PROJECT, "Revision: " + TO, "OK"])

    def commands(self):
        m = self.modem()
        match(m.command("AT"), ["OK"])
        m.send("AT", end="\r\n")                        # CR LF accepted too
        match(m.until(lambda l: l in ("OK", "ERROR")), ["OK"])
        match(m.command("ATI"), ["fotamodem", PROJECT, "Revision: " + FROM, "OK"])
        match(m.command("AT+QFOTADL=?"), ["OK"])
        long_url = "http://127.0.0.1/" + "p" * 500
        for bad in ["AT+QFOTADL=http://127.0.0.1/x.zip", 'AT+QFOTADL="gopher://127.0.0.1/x"',
                    'AT+QFOTADL=""', 'AT+QFOTADL="%s"' % long_url,
                    'AT+QFOTADL="ftp://%s:p@127.0.0.1/x"' % ("u" * 51),
                    'AT+QFOTADL="ftp://u:%s@127.0.0.1/x"' % ("p" * 51),
                    'AT+QFOTADL="ftp://u:p@127.0.0.1/%s"' % ("f" * 51),
                    'AT+QFOTADL="http://127.0.0.1:0/x"', 'AT+QFOTADL="http://127.0.0.1:65536/x"',
                    'AT+QFOTADL="http://127.0.0.1:80/"', 'AT+QFOTADL="http://127.0.0.1"',
                    "AT+QFOTADL", "AT+BOGUS", "HELLO"]:
            got = m.command(bad)
            assert got == ["ERROR"], "%s -> %s" % (bad, got)
        assert len('"%s"' % long_url) - 2 > 512
        self.untouched(m)

    def stdio(self):
        """--stdio: the same commands on stdin/stdout; it exits 0 when stdin ends."""
        image = os.path.join(self.workdir, "flash.bin")
        shutil.copyfile(OLD, image)
        r = subprocess.run([os.path.join(BIN, "fotamodem"), "--stdio", "--project", PROJECT,
                            "--firmware", FROM, "--image", image], input=b"AT\rATI\r\nAT+X\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        assert r.returncode == 0, r.stderr
        want = "OK\r\nfotamodem\r\n%s\r\nRevision: %s\r\nOK\r\nERROR\r\n" % (PROJECT, FROM)
        assert r.stdout.decode() == want, r.stdout

    def http_ok(self):
        """HTTP, with the host closing and reopening the line during the reboot."""
        m = self.modem("--reboot-pause", "1")
        m.send('AT+QFOTADL="http://127.0.0.1:%d/good.zip"' % self.s.http_port)
        got = m.until(lambda l: l.startswith(q("HTTPEND")))
        m.close_line()
        time.sleep(0.3)
        m.open()
        got += m.until(is_last)
        match(got, ["OK", q("HTTPSTART"), *DOWNLOADING, q("HTTPEND", 0), q("START"), UPDATING,
                    q("END", 0)])
        self.updated(m)

    def https_ok(self):
        m = self.modem("--cacert", self.s.cacert)
        got = m.fota("https://localhost:%d/good.zip" % self.s.https_port)
        match(got, ["OK", q("HTTPSTART"), *DOWNLOADING, q("HTTPEND", 0), q("START"), UPDATING,
                    q("END", 0)])
        self.updated(m)

    def https_untrusted(self):
        m = self.modem()                                # no --cacert: the self-signed cert fails
        got = m.fota("https://localhost:%d/good.zip" % self.s.https_port)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        self.untouched(m)

    def ftp_ok(self):
        m = self.modem()
        got = m.fota("ftp://%s:%s@127.0.0.1:%d/good.zip" % (FTP_USER, FTP_PASS, self.s.ftp_port))
        match(got, ["OK", q("FTPSTART"), *DOWNLOADING, q("FTPEND", 0), q("START"), UPDATING,
                    q("END", 0)])
        self.updated(m)

    def local_ok(self):
        m = self.modem()
        got = m.fota(self.pkgs["good"])
        match(got, ["OK", q("START"), UPDATING, q("END", 0)])
        self.updated(m)
        # The device is now at v4.0.0b5: the same package is for another version.
        match(m.fota(self.pkgs["good"]), ["OK", q("END", 505)])
        assert same_file(m.image, NEW)

    def http_404(self):
        m = self.modem()
        match(m.fota("http://127.0.0.1:%d/missing.zip" % self.s.http_port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        self.untouched(m)

    def ftp_bad_login(self):
        m = self.modem()
        got = m.fota("ftp://%s:wrong@127.0.0.1:%d/good.zip" % (FTP_USER, self.s.ftp_port))
        match(got, ["OK", q("FTPSTART"), q("FTPEND", 601)])
        self.untouched(m)

    def http_dropped(self):
        m = self.modem()
        got = m.fota("http://127.0.0.1:%d/half/good.zip" % self.s.http_port)
        match(got, ["OK", q("HTTPSTART"), SOME_DOWNLOADING, q("HTTPEND", 701)])
        self.untouched(m)

    def http_stalled(self):
        m = self.modem("--timeout", "1")
        t0 = time.monotonic()
        got = m.fota("http://127.0.0.1:%d/good.zip" % self.s.stall_port, timeout=20)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        assert time.monotonic() - t0 < 10, "the stall was not cut by --timeout"
        self.untouched(m)

    def other_version(self):
        m = self.modem()
        got = m.fota("http://127.0.0.1:%d/other-version.zip" % self.s.http_port)
        match(got, ["OK", q("HTTPSTART"), *DOWNLOADING, q("HTTPEND", 0), q("END", 505)])
        self.untouched(m)

    def corrupt(self):
        m = self.modem()
        match(m.fota(self.pkgs["corrupt"]), ["OK", q("END", 504)])
        self.untouched(m)

    def too_large(self):
        size = os.path.getsize(self.pkgs["good"])
        m = self.modem("--max-size", str(size - 1))
        port = self.s.http_port
        # The size stated first (Content-Length, FTP SIZE): refused before the body.
        match(m.fota("http://127.0.0.1:%d/good.zip" % port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("END", 550)])
        match(m.fota("ftp://%s:%s@127.0.0.1:%d/good.zip" % (FTP_USER, FTP_PASS, self.s.ftp_port)),
              ["OK", q("FTPSTART"), q("FTPEND", 0), q("END", 550)])
        # No size stated: the transfer is cut when it passes the limit.
        match(m.fota("http://127.0.0.1:%d/nolength/good.zip" % port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("END", 550)])
        match(m.fota(self.pkgs["good"]), ["OK", q("END", 550)])
        self.untouched(m)
        assert not [f for f in os.listdir(self.workdir) if f.endswith((".part", ".zip"))]

    def power_cut(self):
        m = self.modem("--flash-delay", "40")
        state = m.image + ".fota"
        m.send('AT+QFOTADL="http://127.0.0.1:%d/good.zip"' % self.s.http_port)
        got = m.until(lambda l: l.startswith(q("UPDATING") + ",")
                      and int(l.rsplit(",", 1)[1]) >= 40)
        m.kill()                                        # SIGKILL: the power cut
        match(got[:13], ["OK", q("HTTPSTART"), *DOWNLOADING, q("HTTPEND", 0)])
        assert got[13] == q("START")
        before = int(got[-1].rsplit(",", 1)[1])
        assert os.path.exists(os.path.join(state, "journal")), "no journal after the cut"
        assert not same_file(m.image, NEW)
        # Started again with the same options: the update resumes on its own.
        t0 = time.monotonic()
        m.start()
        got = m.until(is_last, timeout=90)
        match(got, [q("START"), UPDATING, q("END", 0)])
        first = int(got[1].rsplit(",", 1)[1])
        assert first > 10 and first >= before - 25, "resumed at %d after a cut at %d" % (first, before)
        print("     cut at UPDATING,%d; resumed at UPDATING,%d; END,0 after %.1fs"
              % (before, first, time.monotonic() - t0))
        self.updated(m)


def make_packages(tmp):
    root = os.path.join(tmp, "srv")
    os.makedirs(root)
    mk = os.path.join(BIN, "mkdelta")
    good = os.path.join(root, "good.zip")
    # A device committing 4 blocks at a time: a power cut loses at most a few percent.
    subprocess.run([mk, "-q", "--project", PROJECT, "--from", FROM, "--to", TO, "--key", KEY,
                    "--batch-blocks", "4", "-o", good, OLD, NEW], check=True)
    other = os.path.join(root, "other-version.zip")
    subprocess.run([mk, "-q", "--project", PROJECT, "--from", "v4.0.0b3", "--to", TO, "--key",
                    KEY, "-o", other, OLD, NEW], check=True)
    corrupt = os.path.join(root, "corrupt.zip")
    data = bytearray(open(good, "rb").read())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x5A
    open(corrupt, "wb").write(data)
    return root, {"good": good, "other": other, "corrupt": corrupt}


def main():
    for tool in ("mkdelta", "fotamodem"):
        if not os.access(os.path.join(BIN, tool), os.X_OK):
            print("missing %s/%s (build first)" % (BIN, tool), file=sys.stderr)
            return 1

    def on_alarm(*_):
        raise TimeoutError("the whole test ran over 240 s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(240)
    tmp = tempfile.mkdtemp(prefix="libdelta-modem.")
    servers = None
    suite = None
    try:
        root, pkgs = make_packages(tmp)
        servers = Servers(root, tmp)
        suite = Suite(tmp, servers, pkgs)
        for name, fn in [
            ("AT, ATI, AT+QFOTADL=?, malformed -> ERROR", suite.commands),
            ("--stdio: AT, ATI, unknown -> ERROR; exit 0 at EOF", suite.stdio),
            ("HTTP: success, line reopened during the reboot", suite.http_ok),
            ("HTTPS (--cacert): success", suite.https_ok),
            ("HTTPS without the CA: HTTPEND,701", suite.https_untrusted),
            ("FTP: success", suite.ftp_ok),
            ("local file: success, then 505 at the new version", suite.local_ok),
            ("HTTP 404: HTTPEND,701", suite.http_404),
            ("FTP bad password: FTPEND,601", suite.ftp_bad_login),
            ("HTTP server drops mid-body: HTTPEND,701", suite.http_dropped),
            ("HTTP server stalls: HTTPEND,701 after --timeout", suite.http_stalled),
            ("package for another version: END,505", suite.other_version),
            ("corrupt package: END,504", suite.corrupt),
            ("over --max-size: END,550 (HTTP, FTP, no length, local)", suite.too_large),
            ("power cut during UPDATING, restart: resumes to END,0", suite.power_cut),
        ]:
            suite.run(name, fn)
    except BaseException as e:
        print("FAIL setup: %r" % e)
        traceback.print_exc()
        if suite is None:
            print("0 passed, 1 failed")
            return 1
        suite.failed += 1
    finally:
        signal.alarm(0)
        if suite:
            for m in suite.modems:
                m.stop()
        if servers:
            servers.stop()
        if not os.environ.get("KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("kept " + tmp)
    print("%d passed, %d failed" % (suite.passed, suite.failed))
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
