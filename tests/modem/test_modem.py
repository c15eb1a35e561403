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
OLD22 = os.path.join(FW, "cityhub-7.22.0.bin")
NEW = os.path.join(FW, "cityhub-7.28.0.bin")
KEY = os.path.join(DATA, "keys", "ec-p256.pem")
PUB = os.path.join(DATA, "keys", "ec-p256.pub.pem")
PROJECT = "PYBRICKS-CITYHUB"
FROM, TO = "v4.0.0b4", "v4.0.0b5"
FTP_USER, FTP_PASS = "fota", "s3cret"


def q(kind, *args):
    """A +QIND: "FOTA" URC line."""
    return '+QIND: "FOTA","%s"' % kind + "".join(",%d" % a for a in args)


def qp(kind, percent):
    """A BC20 progress URC: +QIND: "FOTA","DOWNLOADING",<n>%."""
    return '+QIND: "FOTA","%s",%d%%' % (kind, percent)


# Only BC20 reports download progress, with the percent sign.
DOWNLOADING = [qp("DOWNLOADING", p) for p in range(10, 101, 10)]
UPDATING = "<UPDATING rising to 100>"
SOME_DOWNLOADING = "<DOWNLOADING: tens rising, maybe none>"

# ---- servers -------------------------------------------------------------------


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the package directory; /half/NAME drops after half the body,
    /nolength/NAME sends the body without a Content-Length, /cut/NAME half of
    it without a Content-Length (a clean close: only the zip shows the cut)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        for prefix in ("/half/", "/nolength/", "/cut/"):
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
                    self.wfile.write(body if prefix == "/nolength/" else body[: len(body) // 2])
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
    """fotamodem --pty on its own image; lines read with pyserial through its
    --link. A reboot hangs the port up: the reads fail, and the line is opened
    again through the link, as a host reopens a re-enumerated USB port."""

    def __init__(self, workdir, *extra, images=None):
        images = images or [(None, OLD)]
        self.images = {}
        args = []
        for name, src in images:
            path = os.path.join(workdir, (name or "flash") + ".bin")
            if not os.path.exists(path):
                shutil.copyfile(src, path)
            self.images[name] = path
            args += ["--image", path if name is None else "%s=%s" % (name, path)]
        self.image = self.images[images[0][0]]
        self.ufs = self.image + ".ufs"
        self.link = os.path.join(workdir, "modem.tty")
        self.reopened = 0
        self.args = [os.path.join(BIN, "fotamodem"), "--pty", "--link", self.link,
                     "--project", PROJECT, "--firmware",
                     FROM, *args, "--pubkey", PUB, "--reboot-pause", "0.3", "--timeout", "2", *extra]
        self.log = open(os.path.join(workdir, "fotamodem.log"), "ab")
        self.proc = None
        self.ser = None
        self.at = []
        self.start()

    def start(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self.log)
        path = self.proc.stdout.readline().decode().strip()
        assert path.startswith("/dev/pts/"), "no pty path printed: %r" % path
        self.path = path
        self.open()

    def open(self, timeout=10):
        """Opens the port through the link, waiting while it is away (a reboot)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ser = serial.Serial(self.link, 115200, timeout=0.2)
                return
            except (serial.SerialException, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def reopen(self):
        """The port was hung up (the module rebooted): open its successor."""
        try:
            self.ser.close()
        except Exception:
            pass
        self.reopened += 1
        self.open()

    def readline(self):
        try:
            return self.ser.readline()
        except (serial.SerialException, OSError):
            self.reopen()
            return b""

    def close_line(self):
        self.ser.close()

    def send(self, cmd, end="\r"):
        try:
            self.ser.write((cmd + end).encode())
        except (serial.SerialException, OSError):
            self.reopen()
            self.ser.write((cmd + end).encode())

    def line(self, deadline):
        """The next non-empty line (without CR LF); AssertionError at the deadline.
        self.at holds the time each line of the last until() arrived."""
        buf = b""
        while time.monotonic() < deadline:
            buf += self.readline()
            if buf.endswith(b"\n"):
                text = buf.decode(errors="replace").rstrip("\r\n")
                buf = b""
                if text:
                    self.at.append(time.monotonic())
                    return text
        raise AssertionError("timed out waiting for a line (partial %r)" % buf)

    def quiet(self, seconds):
        """Asserts that nothing arrives for that long."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.readline()
            assert not got, "unexpected output %r" % got

    def until(self, stop, timeout=30):
        """Lines up to and including the first for which stop(line) is true."""
        deadline = time.monotonic() + timeout
        got = []
        self.at = []
        while True:
            got.append(self.line(deadline))
            if stop(got[-1]):
                return got

    def command(self, cmd, timeout=5):
        """Sends cmd; the lines up to OK, ERROR or +CME ERROR."""
        self.send(cmd)
        return self.until(lambda l: l in ("OK", "ERROR") or l.startswith("+CME ERROR:"), timeout)

    def fota(self, url, timeout=60, ends=1):
        """AT+QFOTADL=url; every line up to the last URC of the session (the
        ends-th END, or a failed download, or an error answer)."""
        self.send('AT+QFOTADL="%s"' % url)
        return self.until(lasts(ends), timeout)

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
    if line in ("ERROR",) or line.startswith(("+CME ERROR:", q("END") + ",")):
        return True
    for end, err in (("FTPEND", 601), ("HTTPEND", 701), ("HTTPEND", 12)):
        if line == q(end, err):
            return True
    return False


def lasts(ends):
    """A stop for until(): the ends-th END line, or any other last line."""
    seen = [0]

    def stop(line):
        if line.startswith(q("END") + ","):
            seen[0] += 1
            return seen[0] >= ends
        return is_last(line)
    return stop


def tries(code, n):
    """n tries that end in END,<code> before any write (each after a reboot)."""
    return [q("END", code)] * n


def percent_of(line):
    return int(line.rsplit(",", 1)[1].rstrip("%"))


def match(got, expected):
    """Asserts got against expected, where UPDATING stands for UPDATING lines
    strictly rising to 100 and SOME_DOWNLOADING for DOWNLOADING tens rising."""
    i = 0
    for want in expected:
        if want == UPDATING:
            seen = []
            while i < len(got) and got[i].startswith(q("UPDATING") + ","):
                seen.append(percent_of(got[i]))
                i += 1
            assert seen and seen == sorted(set(seen)) and seen[-1] == 100 and seen[0] >= 1, \
                "UPDATING not rising to 100: %s\n got: %s" % (seen, got)
        elif want == SOME_DOWNLOADING:
            seen = []
            while i < len(got) and got[i].startswith(q("DOWNLOADING") + ","):
                seen.append(percent_of(got[i]))
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

    def modem(self, *extra, workdir=None, images=None):
        m = Modem(workdir or self.workdir, *extra, images=images)
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
        """--stdio: the same commands on stdin/stdout, each response framed
        <CR><LF>response<CR><LF>; it exits 0 when stdin ends."""
        image = os.path.join(self.workdir, "flash.bin")
        shutil.copyfile(OLD, image)
        r = subprocess.run([os.path.join(BIN, "fotamodem"), "--stdio", "--project", PROJECT,
                            "--firmware", FROM, "--image", image],
                           input=b"AT\rATI\r\nAT+X\nAT\0junk\r",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        assert r.returncode == 0, r.stderr
        want = "".join("\r\n%s\r\n" % l for l in
                       ["OK", "fotamodem", PROJECT, "Revision: " + FROM, "OK", "ERROR", "ERROR"])
        assert r.stdout.decode() == want, r.stdout

    def boot_commands(self):
        """What a host sends at boot, answered as a registered module; NUL is no terminator."""
        for profile, cesq, act in (("EC2X", "+CESQ: 99,99,255,255,20,55", 7),
                                   ("BC20", "+CESQ: 47,6,255,255,0,54", 9)):
            m = self.modem("--profile", profile)
            match(m.command("ATE0"), ["OK"])
            match(m.command("AT+CMEE=2"), ["OK"])
            match(m.command("AT+CMEE?"), ["+CMEE: 2", "OK"])
            match(m.command("AT+CESQ"), [cesq, "OK"])
            match(m.command("AT+CEREG?"), ["+CEREG: 0,1", "OK"])
            match(m.command("AT+CGPADDR=1"), ["+CGPADDR: 1,10.64.0.2", "OK"])
            match(m.command("AT+CPIN?"), ["+CPIN: READY", "OK"])
            match(m.command("AT+CESQ;+CEREG?;+CPIN?;+COPS?"),
                  [cesq, "+CEREG: 0,1", "+CPIN: READY", '+COPS: 0,0,"fotamodem",%d' % act, "OK"])
            m.ser.write(b"AT\0junk\r")
            match(m.until(lambda l: l in ("OK", "ERROR")), ["ERROR"])
            m.ser.write(b"ATI\0\r")
            match(m.until(lambda l: l in ("OK", "ERROR")), ["ERROR"])
            m.ser.reset_input_buffer()
            m.ser.write(b"ATE1\r")
            match(m.until(lambda l: l in ("OK", "ERROR")), ["OK"])
            m.ser.write(b"AT\r")
            time.sleep(0.3)
            assert m.ser.read(4096) == b"AT\r\r\nOK\r\n", "echo"
            m.stop()
            self.modems.remove(m)

    def limits(self):
        """Each family's limits: URL, FTP fields, local paths, transports."""
        http = "http://127.0.0.1:%d/" % self.s.stall_port
        ftp = "ftp://u:p@127.0.0.1:%d/" % self.s.stall_port
        cases = {
            "EC2X": [(http + "p" * (255 - len(http)), "OK"), (http + "p" * (256 - len(http)), "ERROR"),
                     ("ftp://%s:p@127.0.0.1/x" % ("u" * 51), "ERROR"),
                     ("/data/ufs/" + "n" * 80, "OK"), ("/data/ufs/" + "n" * 81, "ERROR"),
                     ("/cache/ufs/x.zip", "ERROR"), ("/tmp/x.zip", "ERROR"),
                     ("/data/ufs/../x.zip", "ERROR"), ("/data/ufs/", "ERROR")],
            "EG9X": [("/data/ufs/" + "n" * 118, "OK"), ("/data/ufs/" + "n" * 119, "ERROR"),
                     (http + "p" * (256 - len(http)), "ERROR"),
                     ("ftp://u:p@127.0.0.1/%s" % ("f" * 51), "ERROR")],
            "RG50XQ": [(http + "p" * (512 - len(http)), "OK"), (http + "p" * (513 - len(http)), "ERROR"),
                       (ftp + "f" * 60, "OK"), ("/cache/ufs/" + "n" * 255, "OK"), ("/cache/ufs/" + "n" * 256, "ERROR"),
                       ("/cache/ufs/" + "n" * 502, "ERROR"), ("cache/ufs/x.zip", "OK"),
                       ("/data/ufs/x.zip", "ERROR")],
            "BC20": [(http + "x.zip", "OK"), ("https://127.0.0.1/x.zip", "+CME ERROR: 4"),
                     ("ftp://u:p@127.0.0.1/x.zip", "ERROR"), ("/data/ufs/x.zip", "ERROR"),
                     (http + "p" * (256 - len(http)), "ERROR")],
        }
        for profile, pairs in cases.items():
            m = self.modem("--profile", profile, "--timeout", "1")
            for arg, want in pairs:
                m.send('AT+QFOTADL="%s"' % arg)
                got = m.line(time.monotonic() + 5)
                assert got == want, "%s %s (%d bytes): %s" % (profile, arg[:40], len(arg), got)
                if want == "OK":            # let the session end (a failed download or 504)
                    m.until(is_last, 20)
            m.stop()
            self.modems.remove(m)

    def http_ok(self):
        """HTTP, with the host closing and reopening the line during the reboot.
        No DOWNLOADING on EC2X (only BC20 reports download progress)."""
        m = self.modem("--reboot-pause", "1")
        m.send('AT+QFOTADL="http://127.0.0.1:%d/good.zip"' % self.s.http_port)
        got = m.until(lambda l: l.startswith(q("HTTPEND")))
        m.close_line()
        time.sleep(0.3)
        m.open()
        got += m.until(is_last)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("START"), UPDATING, q("END", 0)])
        self.updated(m)

    def https_ok(self):
        m = self.modem("--cacert", self.s.cacert)
        got = m.fota("https://localhost:%d/good.zip" % self.s.https_port)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("START"), UPDATING, q("END", 0)])
        self.updated(m)

    def https_untrusted(self):
        m = self.modem()                                # no --cacert: the self-signed cert fails
        got = m.fota("https://localhost:%d/good.zip" % self.s.https_port)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        self.untouched(m)

    def ftp_ok(self):
        m = self.modem()
        got = m.fota("ftp://%s:%s@127.0.0.1:%d/good.zip" % (FTP_USER, FTP_PASS, self.s.ftp_port))
        match(got, ["OK", q("FTPSTART"), q("FTPEND", 0), q("START"), UPDATING, q("END", 0)])
        self.updated(m)

    def local_ok(self):
        """A file in the module's UFS (--ufs, default IMAGE.ufs); the same package
        again is for another version: five checks, END,505 each, nothing written."""
        m = self.modem()
        os.makedirs(m.ufs)
        shutil.copyfile(self.pkgs["good"], os.path.join(m.ufs, "update-b4-to-b5.zip"))
        got = m.fota("/data/ufs/update-b4-to-b5.zip")
        match(got, ["OK", q("START"), UPDATING, q("END", 0)])
        self.updated(m)
        match(m.fota("/data/ufs/update-b4-to-b5.zip", ends=5), ["OK", *tries(505, 5)])
        assert same_file(m.image, NEW)
        match(m.fota("/data/ufs/missing.zip"), ["OK", q("END", 504)])

    def upload(self):
        """AT+QFUPL into the UFS (CONNECT, the bytes, +QFUPL: <size>,<xor16>), then update from it."""
        m = self.modem("--profile", "RG50XQ")
        data = open(self.pkgs["good"], "rb").read()
        m.send('AT+QFUPL="UFS:pkg.zip",%d,10' % len(data))
        match(m.until(lambda l: l in ("CONNECT", "ERROR") or l.startswith("+CME")), ["CONNECT"])
        for i in range(0, len(data), 4096):
            m.ser.write(data[i:i + 4096])
        padded = data + b"\0" * (len(data) % 2)
        xor = 0
        for i in range(0, len(padded), 2):
            xor ^= padded[i] << 8 | padded[i + 1]
        match(m.until(lambda l: l in ("OK", "ERROR") or l.startswith("+CME"), 20),
              ["+QFUPL: %d,%x" % (len(data), xor), "OK"])
        assert same_file(os.path.join(m.ufs, "pkg.zip"), self.pkgs["good"])
        match(m.command('AT+QFUPL="pkg.zip",10'), ["+CME ERROR: 407"])
        m.send('AT+QFUPL="short.zip",10,1')             # 3 bytes of 10, then the 1 s timeout
        match(m.until(lambda l: l == "CONNECT"), ["CONNECT"])
        m.ser.write(b"abc")
        match(m.until(lambda l: l.startswith("+CME") or l in ("OK", "ERROR"), 5), ["+CME ERROR: 421"])
        assert not os.path.exists(os.path.join(m.ufs, "short.zip"))
        match(m.fota("/cache/ufs/pkg.zip"), ["OK", q("START"), UPDATING, q("END", 0)])
        self.updated(m)

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
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        self.untouched(m)

    def http_cut(self):
        """Half a body with no Content-Length and a clean close: a failed download."""
        m = self.modem()
        got = m.fota("http://127.0.0.1:%d/cut/good.zip" % self.s.http_port)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        self.untouched(m)
        match(m.fota("http://127.0.0.1:%d/nolength/good.zip" % self.s.http_port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("START"), UPDATING, q("END", 0)])
        self.updated(m)

    def http_stalled(self):
        m = self.modem("--timeout", "1")
        t0 = time.monotonic()
        got = m.fota("http://127.0.0.1:%d/good.zip" % self.s.stall_port, timeout=20)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        assert time.monotonic() - t0 < 10, "the stall was not cut by --timeout"
        self.untouched(m)

    def other_version(self):
        """A package check failure: END,505, reboot, check again: five tries, then the
        module boots on the untouched image. Each END comes before its reboot."""
        m = self.modem("--reboot-pause", "0.5")
        match(m.command("AT"), ["OK"])                  # past the 0.2 s an opened port settles
        got = m.fota("http://127.0.0.1:%d/other-version.zip" % self.s.http_port, ends=5)
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 0), *tries(505, 5)])
        gaps = [b - a for a, b in zip(m.at[2:], m.at[3:])]
        assert all(g >= 0.4 for g in gaps), "ENDs not a reboot apart: %s" % gaps
        m.quiet(1.0)
        self.untouched(m)

    def corrupt(self):
        m = self.modem()
        os.makedirs(m.ufs)
        shutil.copyfile(self.pkgs["corrupt"], os.path.join(m.ufs, "corrupt.zip"))
        match(m.fota("/data/ufs/corrupt.zip", ends=5), ["OK", *tries(504, 5)])
        self.untouched(m)

    def too_large(self):
        """550 on RG50XQ (its code table has it); EC2X reports 511 (no room)."""
        size = os.path.getsize(self.pkgs["good"])
        m = self.modem("--profile", "RG50XQ", "--max-size", str(size - 1))
        port = self.s.http_port
        # The size stated first (Content-Length, FTP SIZE): refused before the body.
        match(m.fota("http://127.0.0.1:%d/good.zip" % port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("END", 550)])
        match(m.fota("ftp://%s:%s@127.0.0.1:%d/good.zip" % (FTP_USER, FTP_PASS, self.s.ftp_port)),
              ["OK", q("FTPSTART"), q("FTPEND", 0), q("END", 550)])
        # No size stated: the transfer is cut when it passes the limit.
        match(m.fota("http://127.0.0.1:%d/nolength/good.zip" % port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("END", 550)])
        os.makedirs(m.ufs)
        shutil.copyfile(self.pkgs["good"], os.path.join(m.ufs, "good.zip"))
        match(m.fota("/cache/ufs/good.zip"), ["OK", q("END", 550)])
        self.untouched(m)
        assert not [f for f in os.listdir(self.workdir) if f.endswith((".part", ".zip"))]
        m.stop()
        self.modems.remove(m)
        m = self.modem("--max-size", str(size - 1))
        match(m.fota("http://127.0.0.1:%d/good.zip" % port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("END", 511)])
        self.untouched(m)

    def power_cut(self):
        m = self.modem("--flash-delay", "40")
        state = m.image + ".fota"
        m.send('AT+QFOTADL="http://127.0.0.1:%d/good.zip"' % self.s.http_port)
        got = m.until(lambda l: l.startswith(q("UPDATING") + ",") and percent_of(l) >= 40)
        m.kill()                                        # SIGKILL: the power cut
        match(got[:3], ["OK", q("HTTPSTART"), q("HTTPEND", 0)])
        assert got[3] == q("START")
        before = percent_of(got[-1])
        assert os.path.exists(os.path.join(state, "journal")), "no journal after the cut"
        assert not same_file(m.image, NEW)
        # Started again with the same options: the update resumes on its own.
        t0 = time.monotonic()
        m.start()
        got = m.until(is_last, timeout=90)
        match(got, [q("START"), UPDATING, q("END", 0)])
        first = percent_of(got[1])
        assert first > 10 and first >= before - 25, "resumed at %d after a cut at %d" % (first, before)
        print("     cut at UPDATING,%d; resumed at UPDATING,%d; END,0 after %.1fs"
              % (before, first, time.monotonic() - t0))
        self.updated(m)

    def hangup(self):
        """A reboot on --pty hangs the port up (reads fail), a new one appears behind
        --link; lines sent while no host has it open are lost unless --hold-urcs."""
        for hold in (False, True):
            wd = os.path.join(self.workdir, "hold" if hold else "lose")
            os.makedirs(wd)
            tr = os.path.join(wd, "t.log")
            m = self.modem("--transcript", tr, *(["--hold-urcs"] if hold else []), workdir=wd)
            os.makedirs(m.ufs)
            shutil.copyfile(self.pkgs["good"], os.path.join(m.ufs, "good.zip"))
            match(m.command('AT+QFOTADL="/data/ufs/good.zip"'), ["OK"])
            t0 = time.monotonic()
            while m.reopened == 0 and time.monotonic() - t0 < 5:
                m.readline()                            # until the hang-up
            assert m.reopened == 1, "no hang-up"
            m.close_line()                              # no host while the module updates
            time.sleep(2.5)
            m.open()
            if hold:
                match(m.until(is_last), [q("START"), UPDATING, q("END", 0)])
            else:
                m.quiet(0.5)
            self.updated(m)
            events = [l.split(" ", 2)[1:] for l in open(tr).read().splitlines()]
            assert ["#", "the port is hung up (reboot)"] in events, events
            lost = [e[1] for e in events if e[0] == "!"]
            assert lost == ([] if hold else [q("START")] + lost[1:-1] + [q("END", 0)]), lost
            m.stop()
            self.modems.remove(m)

    def fotahost(self):
        """The reference host (tools/fotahost) against fotamodem: its exit status and
        report for a success, five refusals, two failed writes, a silent boot, HTTPEND,12,
        and a hang past its --silence (it asks for a power cycle, then sees the end)."""
        http = "http://127.0.0.1:%d/" % self.s.http_port
        cases = [([], http + "good.zip", [], 0, "updated to %s after 1 END line(s), 1 reboot(s) seen" % TO),
                 ([], http + "other-version.zip", ["--first-urc", "2"], 5,
                  "failed: 505 (ATI shows another version: not updated) after 5 END line(s); "
                  "the module runs " + FROM),
                 (["--inject", "write-fail:2"], http + "good.zip", [], 0,
                  "updated to %s after 3 END line(s), 3 reboot(s) seen" % TO),
                 (["--inject", "silent-boot"], http + "good.zip", ["--first-urc", "3"], 0,
                  "updated to %s after 0 END line(s), 1 reboot(s) seen" % TO),
                 (["--profile", "BC20"], http + "missing.zip", [], 1,
                  "failed: 12 (the download failed) after 0 END line(s)"),
                 (["--inject", "hang:2.5@30", "--flash-delay", "10"], http + "good.zip", ["--silence", "1"], 0,
                  "updated to %s after 1 END line(s), 1 reboot(s) seen" % TO, b"power-cycle the module now")]
        for n, (extra, url, opts, code, out, *err) in enumerate(cases):
            wd = os.path.join(self.workdir, "h%d" % n)
            os.makedirs(wd)
            m = self.modem(*extra, workdir=wd)
            m.close_line()
            r = subprocess.run([os.path.join(BIN, "fotahost"), "--port", m.link, "--url", url,
                                "--target", TO, *opts], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=60)
            assert (r.returncode, r.stdout.decode().strip()) == (code, out), \
                "%s %s: %d %r %r" % (extra, url, r.returncode, r.stdout, r.stderr)
            assert all(e in r.stderr for e in err), r.stderr
            m.open()
            (self.updated if code == 0 else self.untouched)(m)
            m.stop()
            self.modems.remove(m)

    # -- the families

    def bc20(self):
        """BC20: no reboot before START, DOWNLOADING/UPDATING with %, its own codes,
        no second check (error and exit), HTTPEND,12 for a failed download."""
        m = self.modem("--profile", "BC20")
        url = "http://127.0.0.1:%d/" % self.s.http_port
        match(m.fota(url + "other-version.zip"),
              ["OK", q("HTTPSTART"), *DOWNLOADING, q("HTTPEND", 0), q("END", 254)])
        m.quiet(1.0)
        match(m.fota(url + "corrupt.zip"), ["OK", q("HTTPSTART"), *DOWNLOADING, q("HTTPEND", 0),
                                            q("END", 255)])
        match(m.fota(url + "missing.zip"), ["OK", q("HTTPSTART"), q("HTTPEND", 12)])
        self.untouched(m)
        got = m.fota(url + "good.zip")
        match(got, ["OK", q("HTTPSTART"), *DOWNLOADING, q("HTTPEND", 0), q("START"), UPDATING,
                    q("END", 0)])
        assert all(l.endswith("%") for l in got if "UPDATING" in l), got
        self.updated(m)

    def eg9x(self):
        """EG9X's table has no 504: a corrupt package reports 505, five times."""
        m = self.modem("--profile", "EG9X")
        match(m.fota("http://127.0.0.1:%d/corrupt.zip" % self.s.http_port, ends=5),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), *tries(505, 5)])
        self.untouched(m)

    def rg50xq_multi(self):
        """RG50XQ: a package for two partitions (--image NAME=FILE each)."""
        m = self.modem("--profile", "RG50XQ", images=[("modem", OLD), ("boot", OLD22)])
        got = m.fota("ftp://%s:%s@127.0.0.1:%d/multi.zip" % (FTP_USER, FTP_PASS, self.s.ftp_port))
        match(got, ["OK", q("FTPSTART"), q("FTPEND", 0), q("START"), UPDATING, q("END", 0)])
        assert same_file(m.images["modem"], NEW) and same_file(m.images["boot"], OLD)
        match(m.command("ATI"), ["fotamodem", PROJECT, "Revision: " + TO, "OK"])
        r = subprocess.run([os.path.join(BIN, "fotamodem"), "--project", PROJECT, "--firmware", FROM,
                            "--image", "a=" + m.image, "--image", "b=" + m.images["boot"]],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, input=b"")
        assert r.returncode == 64 and b"single-image" in r.stderr, r.stderr

    # -- injected faults

    def write_fail_retry(self):
        """write-fail:2: two tries end in END,520, each delivered before its reboot
        (not with the next START); the third succeeds."""
        m = self.modem("--inject", "write-fail:2", "--reboot-pause", "1")
        got = m.fota("http://127.0.0.1:%d/good.zip" % self.s.http_port, ends=3)
        ends = [i for i, l in enumerate(got) if l.startswith(q("END") + ",")]
        assert [got[i] for i in ends] == [q("END", 520), q("END", 520), q("END", 0)], got
        for i in ends[:2]:
            assert got[i + 1] == q("START") and m.at[i + 1] - m.at[i] >= 0.8, \
                "END,520 came %.2fs before START" % (m.at[i + 1] - m.at[i])
        assert got[:4] == ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("START")], got
        assert m.reopened == 3, "%d hang-ups, not 3 reboots" % m.reopened
        self.updated(m)

    def write_fail_rollback(self):
        """write-fail:5: the fifth failed try rolls the image back: END,545, the source."""
        m = self.modem("--inject", "write-fail:5")
        os.makedirs(m.ufs)
        shutil.copyfile(self.pkgs["good"], os.path.join(m.ufs, "good.zip"))
        got = m.fota("/data/ufs/good.zip", ends=5)
        ends = [l for l in got if l.startswith(q("END") + ",")]
        assert ends == [q("END", 520)] * 4 + [q("END", 545)], got
        assert got.count(q("START")) == 5, got
        self.untouched(m)

    def silent_boot(self):
        """silent-boot: after HTTPEND,0 the module says nothing; ATI shows it updated."""
        m = self.modem("--inject", "silent-boot")
        m.send('AT+QFOTADL="http://127.0.0.1:%d/good.zip"' % self.s.http_port)
        match(m.until(lambda l: l.startswith(q("HTTPEND"))), ["OK", q("HTTPSTART"), q("HTTPEND", 0)])
        m.quiet(2.0)
        self.updated(m)

    def hang(self):
        """hang:2@50: at UPDATING,50 the module stops answering for 2 s (an AT is lost)."""
        m = self.modem("--inject", "hang:2@50", "--flash-delay", "20")
        m.send('AT+QFOTADL="http://127.0.0.1:%d/good.zip"' % self.s.http_port)
        got = m.until(lambda l: l.startswith(q("UPDATING") + ",") and percent_of(l) >= 30)
        last = time.monotonic()
        while time.monotonic() - last < 0.6:            # silence: the hang has begun
            l = m.readline().strip()
            if l:
                got.append(l.decode())
                last = time.monotonic()
        t0 = time.monotonic()
        m.send("AT")
        got2 = m.until(is_last)
        assert "OK" not in got2, "answered while hung: %s" % got2
        assert m.at[0] - t0 >= 1.0, "no pause: %.2f" % (m.at[0] - t0)
        match(got + got2, ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("START"), UPDATING, q("END", 0)])
        match(m.command("AT"), ["OK"])
        self.updated(m)

    def disk_full(self):
        """disk-full: storing the package hits ENOSPC: END,511 (BC20: 1), nothing written."""
        # Half the package fits: the file system fills up part way through it.
        m = self.modem("--inject", "disk-full:%d" % (os.path.getsize(self.pkgs["good"]) // 2))
        match(m.fota("http://127.0.0.1:%d/good.zip" % self.s.http_port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("END", 511)])
        os.makedirs(m.ufs)
        shutil.copyfile(self.pkgs["good"], os.path.join(m.ufs, "good.zip"))
        match(m.fota("/data/ufs/good.zip"), ["OK", q("END", 511)])
        self.untouched(m)
        m.stop()
        self.modems.remove(m)
        m = self.modem("--profile", "BC20", "--inject", "disk-full")
        match(m.fota("http://127.0.0.1:%d/good.zip" % self.s.http_port),
              ["OK", q("HTTPSTART"), SOME_DOWNLOADING, q("HTTPEND", 0), q("END", 1)])
        self.untouched(m)

    def busy(self):
        """busy: the first AT+QFOTADL answers the busy error (BC20: +CME ERROR: 2, or its
        text after AT+CMEE=2); a second one while a session runs too."""
        url = "http://127.0.0.1:%d/good.zip" % self.s.http_port
        m = self.modem("--inject", "busy", "--flash-delay", "20")
        match(m.command('AT+QFOTADL="%s"' % url), ["ERROR"])
        m.send('AT+QFOTADL="%s"' % url)
        got = m.until(lambda l: l == q("START"))
        m.send('AT+QFOTADL="%s"' % url)
        got += m.until(lambda l: l.startswith(q("END") + ","))
        assert "ERROR" in got, got
        got.remove("ERROR")
        match(got, ["OK", q("HTTPSTART"), q("HTTPEND", 0), q("START"), UPDATING, q("END", 0)])
        m.stop()
        self.modems.remove(m)
        m = self.modem("--profile", "BC20", "--inject", "busy:2")
        match(m.command('AT+QFOTADL="%s"' % url), ["+CME ERROR: 2"])
        match(m.command("AT+CMEE=2"), ["OK"])
        match(m.command('AT+QFOTADL="%s"' % url), ["+CME ERROR: FOTA is busy"])
        match(m.command('AT+QFOTADL="https://127.0.0.1/x.zip"'), ["+CME ERROR: operation not supported"])

    def scenario(self):
        """--scenario: a seed and several faults; the same file gives the same run."""
        path = os.path.join(self.workdir, "faults.txt")
        with open(path, "w") as f:
            f.write("# two failed tries, the first command busy\nseed 7\nwrite-fail:2\nbusy\n")
        url = "http://127.0.0.1:%d/good.zip" % self.s.http_port
        runs = []
        for n in range(2):
            wd = os.path.join(self.workdir, "run%d" % n)
            os.makedirs(wd)
            m = self.modem("--scenario", path, workdir=wd)
            match(m.command('AT+QFOTADL="%s"' % url), ["ERROR"])
            got = m.fota(url, ends=3)
            ends = [l for l in got if l.startswith(q("END") + ",")]
            assert ends == [q("END", 520), q("END", 520), q("END", 0)], got
            self.updated(m)
            runs.append(got)
        assert runs[0] == runs[1], "the seed did not repeat the run"

    def transcript(self):
        """--transcript: every line, timestamped, with its direction, as delivered."""
        path = os.path.join(self.workdir, "t.log")
        m = self.modem("--transcript", path)
        match(m.command("AT"), ["OK"])
        m.ser.write(b"AT\0x\r")
        m.until(lambda l: l == "ERROR")
        match(m.fota("http://127.0.0.1:%d/missing.zip" % self.s.http_port),
              ["OK", q("HTTPSTART"), q("HTTPEND", 701)])
        time.sleep(0.2)
        lines = open(path).read().splitlines()
        import re
        rx = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ([<>#!]) (.*)$")
        got = []
        for l in lines:
            r = rx.match(l)
            assert r, "transcript line %r" % l
            got.append(r.group(1) + " " + r.group(2))
        want = ["# the port is " + m.path, "> AT", "< OK", "> AT\\x00x", "< ERROR",
                '> AT+QFOTADL="http://127.0.0.1:%d/missing.zip"' % self.s.http_port,
                "< OK", "< " + q("HTTPSTART"), "< " + q("HTTPEND", 701)]
        assert got == want, got


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
    multi = os.path.join(root, "multi.zip")
    subprocess.run([mk, "-q", "--project", PROJECT, "--from", FROM, "--to", TO, "--key", KEY,
                    "--image", "modem=%s:%s" % (OLD, NEW), "--image", "boot=%s:%s" % (OLD22, OLD),
                    "-o", multi], check=True)
    corrupt = os.path.join(root, "corrupt.zip")
    data = bytearray(open(good, "rb").read())
    for i in range(len(data) // 3, len(data) // 3 + 64):
        data[i] ^= 0x5A
    open(corrupt, "wb").write(data)
    return root, {"good": good, "other": other, "corrupt": corrupt}


def main():
    for tool in ("mkdelta", "fotamodem", "fotahost"):
        if not os.access(os.path.join(BIN, tool), os.X_OK):
            print("missing %s/%s (build first)" % (BIN, tool), file=sys.stderr)
            return 1

    def on_alarm(*_):
        raise TimeoutError("the whole test ran over 480 s")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(480)
    tmp = tempfile.mkdtemp(prefix="libdelta-modem.")
    servers = None
    suite = None
    try:
        root, pkgs = make_packages(tmp)
        servers = Servers(root, tmp)
        suite = Suite(tmp, servers, pkgs)
        for name, fn in [
            ("AT, ATI, AT+QFOTADL=?, malformed -> ERROR", suite.commands),
            ("--stdio: AT, ATI, unknown, NUL -> ERROR; framing; exit 0", suite.stdio),
            ("boot commands (ATE0, CMEE, CESQ, CEREG, CGPADDR, CPIN), NUL", suite.boot_commands),
            ("limits of EC2X, EG9X, RG50XQ, BC20", suite.limits),
            ("HTTP: success, line reopened during the reboot", suite.http_ok),
            ("HTTPS (--cacert): success", suite.https_ok),
            ("HTTPS without the CA: HTTPEND,701", suite.https_untrusted),
            ("FTP: success", suite.ftp_ok),
            ("local file in /data/ufs: success, then 5 x END,505", suite.local_ok),
            ("AT+QFUPL into /cache/ufs, then update from it (RG50XQ)", suite.upload),
            ("HTTP 404: HTTPEND,701", suite.http_404),
            ("FTP bad password: FTPEND,601", suite.ftp_bad_login),
            ("HTTP server drops mid-body: HTTPEND,701", suite.http_dropped),
            ("HTTP body cut, no Content-Length: HTTPEND,701", suite.http_cut),
            ("HTTP server stalls: HTTPEND,701 after --timeout", suite.http_stalled),
            ("package for another version: 5 x END,505, a reboot apart", suite.other_version),
            ("corrupt package: 5 x END,504", suite.corrupt),
            ("over --max-size: END,550 (RG50XQ), END,511 (EC2X)", suite.too_large),
            ("power cut during UPDATING, restart: resumes to END,0", suite.power_cut),
            ("reboot hangs the pty up; --link; lost or --hold-urcs", suite.hangup),
            ("fotahost, the reference host, against fotamodem", suite.fotahost),
            ("BC20: DOWNLOADING n%, codes 254/255/12, no re-check", suite.bc20),
            ("EG9X: corrupt package -> 5 x END,505", suite.eg9x),
            ("RG50XQ: two partitions", suite.rg50xq_multi),
            ("inject write-fail:2: END,520 twice, each before its reboot", suite.write_fail_retry),
            ("inject write-fail:5: END,520 x4, END,545, source", suite.write_fail_rollback),
            ("inject silent-boot: no URC after the reboot", suite.silent_boot),
            ("inject hang:2@50: nothing answered for 2 s", suite.hang),
            ("inject disk-full: END,511 (BC20: END,1)", suite.disk_full),
            ("inject busy: ERROR / +CME ERROR: 2", suite.busy),
            ("--scenario: seed, write-fail, busy; repeatable", suite.scenario),
            ("--transcript: lines, times, directions", suite.transcript),
        ]:
            if os.environ.get("ONLY", "") in name:
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
