"""A screenshot of TensorBoard's page for runs (their FID curves and sample grids), as docs/tensorboard.png shows.

    pip install -e ".[tensorboard]" playwright && apt-get install chromium     # Debian's Chromium, no browser download
    python scripts/tensorboard_screenshot.py experiments/dcgan_embedded docs/tensorboard.png

Starts `tensorboard` on 127.0.0.1, opens its time-series page in headless Chromium filtered to the FID and the
sample grids, waits for the cards to draw, and saves the page."""
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def main(logdir: str, out: str = "docs/tensorboard.png", port: int = 6123) -> None:
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/?tagFilter=fid_fmnist_cnn%7Csamples#timeseries")
            page.wait_for_selector("canvas, img", timeout=60_000)
            time.sleep(8)  # the line chart and the image cards load their data after the page
            page.locator("button:has-text('Settings')").first.click()  # close the settings panel
            time.sleep(2)
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=out, full_page=True)
            browser.close()
    finally:
        server.terminate()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
