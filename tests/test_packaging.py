"""`pip install .` and `pip install -e .` give a working package (CPython: PyPy here has no pip)."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("editable", [False, True], ids=["install", "editable"])
def test_pip_install(tmp_path, editable):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HPY")}
    cmd = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    cmd += ["-e", REPO] if editable else [REPO]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    code = ("import json, hpybridge, os; "
            "print(json.dumps([hpybridge.__file__, hpybridge.abi_info(), os.listdir(hpybridge.get_include())]))")
    for mode in ("universal", "debug"):
        out = subprocess.run([py, "-c", code], capture_output=True, text=True, cwd=str(tmp_path),
                             env=dict(env, HPY=mode))
        assert out.returncode == 0, out.stderr
        where, info, headers = json.loads(out.stdout)
        assert info["mode"] == mode
        assert "hpybridge.h" in headers
        if editable:
            assert where.startswith(os.path.join(REPO, "python")), where
        else:
            assert where.startswith(str(venv)), where
