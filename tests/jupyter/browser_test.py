"""The classic Jupyter Notebook in headless Chromium, running a notebook on
the kmq-jupyter kernel: the page must show the DataFrame's table and the
matplotlib image made in the sandbox. Asserts on the page's DOM and keeps a
screenshot.

Usage: browser_test.py URL SCREENSHOT.png
(the notebook server is started by tests/it_jupyter_browser.sh)
Prints "ok   NAME" / "FAIL NAME: why" lines.
"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, screenshot = sys.argv[1:3]


def check(name, cond, why=""):
    print(("ok   %s" if cond else "FAIL %s: " + why) % name, flush=True)


def wait_js(driver, script, seconds):
    """Runs script until it returns a true value (at most seconds)."""
    deadline = time.monotonic() + seconds
    value = None
    while time.monotonic() < deadline:
        try:
            value = driver.execute_script(script)
        except Exception:       # noqa: BLE001 -- the page may still be loading
            value = None
        if value:
            return value
        time.sleep(0.25)
    return value


options = Options()
options.binary_location = "/usr/bin/chromium"
for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1280,1600", "--no-first-run", "--disable-extensions"):
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(60)
try:
    driver.get(url)
    ready = wait_js(driver, "return window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel"
                            " && Jupyter.notebook.kernel.is_connected()"
                            " && Jupyter.notebook.kernel.info_reply"
                            " && Jupyter.notebook.kernel.info_reply.implementation", 90)
    check("notebook: the page connects to the kmq-jupyter kernel", ready == "kmq-jupyter",
          repr(ready))
    name = driver.find_element(By.CSS_SELECTOR, ".kernel_indicator_name").text
    check("notebook: the page names the kernel 'Python 3 (kernelmq sandbox)'",
          name == "Python 3 (kernelmq sandbox)", repr(name))
    # Cell > Run All, as a person would
    driver.find_element(By.ID, "celllink").click()
    driver.find_element(By.ID, "run_all_cells").click()
    done = wait_js(driver, """
        var cells = Jupyter.notebook.get_cells();
        return cells.length > 0 && cells.every(function (c) {
            return c.cell_type !== 'code' || (c.input_prompt_number
                && c.input_prompt_number !== '*');
        }) && document.querySelectorAll('div.output_png img').length > 0;""", 120)
    check("notebook: every cell ran", bool(done))
    time.sleep(0.5)
    table = driver.find_elements(By.CSS_SELECTOR, "div.output_html table.dataframe")
    cells_text = [td.text for td in driver.find_elements(
        By.CSS_SELECTOR, "div.output_html table.dataframe td")]
    check("notebook: the page shows the DataFrame as an HTML table",
          len(table) == 1 and "Oslo" in cells_text and "31" in cells_text, repr(cells_text))
    natural = driver.execute_script(
        "var i = document.querySelector('div.output_png img');"
        " return i && i.complete ? [i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)] : null;")
    check("notebook: the page shows the matplotlib figure as a decoded PNG image",
          natural and natural[0] > 100 and natural[1] > 100
          and natural[2] == "data:image/png;base64,", repr(natural))
    streams = " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, "div.output_stdout"))
    check("notebook: stdout from the sandbox is shown", "sandboxed: True" in streams,
          repr(streams))
    errors = driver.find_elements(By.CSS_SELECTOR, "div.output_error")
    check("notebook: no cell failed", not errors, repr([e.text for e in errors]))
    # The table and the plot in view, then the picture
    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(screenshot)
    print("screenshot: %s" % screenshot, flush=True)
    check("notebook: a screenshot of the page is kept", open(screenshot, "rb").read(8)
          == b"\x89PNG\r\n\x1a\n")
finally:
    driver.quit()
