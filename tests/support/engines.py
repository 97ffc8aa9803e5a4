"""A second Docker engine that tests start, break and mend themselves (never the shared one).

It runs in a network namespace of its own (a dockerd started with ``--bridge none``
deletes the host's docker0, which the main engine's default network needs), on its own
socket, data root and exec root, with the python-sandbox image loaded into it once. Its
data root survives a restart, so a test may SIGKILL it, SIGSTOP it or stop it, and the
next one gets it back (with the image) in a few seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path


class Engine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = root / "docker.sock"
        self.url = f"unix://{self.sock}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "DOCKER_HOST": self.url}

    # -- life ----------------------------------------------------------------------------
    def start(self, wait_s: float = 60.0) -> None:
        self._clear_stale()
        with open(self.root / "dockerd.log", "a") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                ["unshare", "--net", "--", "dockerd", "--host", self.url,
                 "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
                 "--pidfile", str(self.root / "dockerd.pid"), "--bridge", "none",
                 "--iptables=false", "--ip-masq=false"],
                stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.answers():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("the second dockerd did not answer:\n" + self.log_tail())

    def _clear_stale(self) -> None:
        # A killed engine leaves pid files and a containerd socket that would make the
        # next one refuse to start or wait for a dead containerd.
        subprocess.run(["pkill", "-KILL", "-f", f"containerd.*{self.root}"], capture_output=True)
        for stale in (self.root / "dockerd.pid", self.root / "exec" / "containerd" / "containerd.pid",
                      self.root / "exec" / "containerd" / "containerd.sock", self.sock):
            stale.unlink(missing_ok=True)

    def answers(self) -> bool:
        return subprocess.run(["docker", "info"], env=self.env, capture_output=True).returncode == 0

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        """Thawed, up and answering: what every test that borrows the engine starts from."""
        if self.alive():
            self.thaw()
            if self.answers():
                return
            self.stop(signal.SIGKILL)
        self.start()

    def stop(self, sig: int = signal.SIGTERM, wait_s: float = 60.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        if sig != signal.SIGKILL:
            self.thaw()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def freeze(self) -> None:
        """SIGSTOP the engine (dockerd alone: its containers and shims run on)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.alive():
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGCONT)

    # -- contents ----------------------------------------------------------------------------
    def load_image(self, image: str) -> None:
        if subprocess.run(["docker", "image", "inspect", image], env=self.env,
                          capture_output=True).returncode == 0:
            return
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        assert save.stdout is not None
        subprocess.run(["docker", "load", "-q"], stdin=save.stdout, env=self.env, check=True,
                       capture_output=True)
        save.stdout.close()
        assert save.wait() == 0

    def containers(self, label: str | None = None, *, running: bool = False) -> list[str]:
        """Ids of every container on this engine (optionally with ``label``; only running
        ones with ``running``), read from the engine itself."""
        argv = ["docker", "ps", "-q" if running else "-aq", "--no-trunc"] + (
            ["--filter", f"label={label}"] if label else [])
        out = subprocess.run(argv, env=self.env, capture_output=True, text=True, check=True)
        return out.stdout.split()

    def log_tail(self, n: int = 2000) -> str:
        try:
            return (self.root / "dockerd.log").read_text()[-n:]
        except OSError:
            return ""

    def close(self) -> None:
        self.stop()
        subprocess.run(["pkill", "-KILL", "-f", f"containerd.*{self.root}"], capture_output=True)
        subprocess.run(["umount", "-R", str(self.root / "data")], capture_output=True)
        subprocess.run(["umount", "-R", str(self.root / "exec")], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def make_engine(prefix: str = "misalign-engine2-") -> Engine:
    if shutil.which("dockerd") is None:
        raise RuntimeError("dockerd is not installed (scripts/engine.sh installs it)")
    return Engine(Path(tempfile.mkdtemp(prefix=prefix, dir="/var/lib")))
