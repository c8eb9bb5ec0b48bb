"""Ctrl-C (SIGINT) during a long iis.fit raises KeyboardInterrupt soon, and out=None leaves no
temporary folder behind."""

import os
import signal
import subprocess
import sys
import textwrap
import time

CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import iis
    from conftest import make_problem
    problem = make_problem()
    print("ready", flush=True)
    start = time.monotonic()
    try:
        iis.fit(**problem, quiet=True, num_concepts=24, epochs=1000000, concept_type="end2end")
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted after", time.monotonic() - start, flush=True)
""")


def test_ctrl_c_stops_a_fit(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    child = subprocess.Popen([sys.executable, "-c", CHILD, os.path.dirname(__file__)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout.readline().strip() == "ready"
        # The fit has started once its temporary folder exists.
        deadline = time.monotonic() + 60
        while not os.listdir(scratch) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.listdir(scratch), "the fit did not start"
        time.sleep(1.0)
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
        stopped = time.monotonic() - sent
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert out.startswith("interrupted after"), (out, err)
    assert stopped < 20
    assert os.listdir(scratch) == []
