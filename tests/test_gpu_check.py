"""The one-command GPU check runs end to end on CPU in --smoke mode (so it is ready for a short GPU window)."""
import subprocess
import sys

from tests.helpers import REPO


def test_gpu_check_smoke_on_cpu(tmp_path):
    out = tmp_path / "gpu_check.md"
    result = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--smoke", "--out", str(out)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = out.read_text()
    speed_rows = [line for line in report.splitlines() if line.startswith("| ") and " | 16 | " in line]
    assert len(speed_rows) == 8  # DCGAN, PGGAN, StyleGAN, StyleGAN with fir x (32-true, bf16-mixed)
    assert all(float(row.split("|")[5]) > 0 for row in speed_rows)  # img/s measured, no failed combination
    assert "| Fashion-MNIST CNN | 128 | 0.00e+00 |" in report  # CPU against itself: identical features
    assert "every weight and buffer equal" in report
    assert "DDP: skipped (0 GPUs" in report
