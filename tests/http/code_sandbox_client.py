"""The code-sandbox FastAPI service's own client, as its users write it
(requests), pointed at kmq-http --compat code-sandbox.
Usage: code_sandbox_client.py BASE_URL"""
import sys

import requests

from common import check, finish

BASE = sys.argv[1]


def run(code, input_data=None):
    response = requests.post(f"{BASE}/execute_code",
                             json={"code": code, "input_data": input_data}, timeout=60)
    response.raise_for_status()
    return response.json()


check("code-sandbox: health", requests.get(f"{BASE}/health", timeout=30).json()
      == {"status": "healthy"})
out = run("import statistics\nprint(len(input_data['values']))\n"
          "result = {'mean': statistics.mean(input_data['values'])}", {"values": [2, 4, 6]})
check("code-sandbox: execute with input_data", out == {"output": "3\n", "result": {"mean": 4},
                                                       "error": None}, out)
response = requests.post(f"{BASE}/upload_data/rows", json=[{"a": 1}, {"a": 2}], timeout=60)
check("code-sandbox: upload data", response.json() == {"message": "Data uploaded successfully",
                                                      "key": "rows"}, response.text)
check("code-sandbox: get data", requests.get(f"{BASE}/get_data/rows", timeout=60).json()
      == {"key": "rows", "data": [{"a": 1}, {"a": 2}]})
out = run("import pandas as pd\nresult = int(pd.DataFrame(data_store['rows'])['a'].sum())")
check("code-sandbox: code sees uploaded data and pandas", out["result"] == 3, out)
out = run("raise ValueError('no')")
check("code-sandbox: an error comes back as its traceback", out["result"] is None
      and "ValueError: no" in out["error"], out)
check("code-sandbox: an unknown key is a 404", requests.get(f"{BASE}/get_data/zz", timeout=60)
      .status_code == 404)
response = requests.post(f"{BASE}/clear_data", timeout=60)
check("code-sandbox: clear data", response.json() == {"message": "Data cleared"}
      and requests.get(f"{BASE}/get_data/rows", timeout=60).status_code == 404)
finish()
