"""The df-dict FastAPI sandbox's own client, as its users write it
(requests, then pandas), pointed at kmq-http --compat df-dict.
Usage: df_dict_client.py BASE_URL"""
import io
import sys

import pandas as pd
import requests

from common import check, finish

BASE = sys.argv[1]


def upload(name, df):
    buffer = io.BytesIO(df.to_csv(index=False).encode())
    response = requests.post(f"{BASE}/uploadfile/{name}",
                             files={"file": (f"{name}.csv", buffer, "text/csv")}, timeout=60)
    response.raise_for_status()
    return response.json()


def list_files():
    return requests.get(f"{BASE}/files/", timeout=60).json()["files"]


def download(name):
    response = requests.get(f"{BASE}/downloadfile/{name}", timeout=60)
    response.raise_for_status()
    return pd.read_json(io.StringIO(response.text))


def execute(code):
    return requests.post(f"{BASE}/execute_code/", json={"code": code}, timeout=60)


df = pd.DataFrame({"A": [1, 2, 3, 4], "B": ["w", "x", "y", "z"], "C": [0.5, 1.5, 2.5, 3.5]})
answer = upload("df", df)
check("df-dict: upload a frame", answer.get("message") == "File uploaded successfully"
      and answer.get("rows") == 4 and answer.get("columns") == 3, answer)
upload("sales-2024", pd.DataFrame({"amount": [10, 20]}))
check("df-dict: list files", list_files() == ["df", "sales-2024"], list_files())
back = download("df")
check("df-dict: download as JSON records that pd.read_json reads", back.equals(df), back)
response = execute("result = df['A'].sum()")
check("df-dict: execute result = df['A'].sum() returns the locals as JSON",
      response.status_code == 200 and response.json()["result"] == {"result": 10}, response.text)
response = execute("total = df_dict['sales-2024']['amount'].sum()\nprint('total', total)\n"
                   "top = df[df['A'] > 2]")
body = response.json()
check("df-dict: df_dict holds every upload; frames come back as records, prints as output",
      response.status_code == 200 and body["result"]["total"] == 30
      and body["result"]["top"] == [{"A": 3, "B": "y", "C": 2.5}, {"A": 4, "B": "z", "C": 3.5}]
      and body["output"] == "total 30\n", body)
response = execute("result = undefined_name + 1")
check("df-dict: a failing cell is a 400 with detail", response.status_code == 400
      and response.json()["detail"].startswith("NameError"), response.text)
response = requests.get(f"{BASE}/downloadfile/nope", timeout=60)
check("df-dict: an unknown name is a 404", response.status_code == 404, response.text)
response = requests.post(f"{BASE}/clear_state/", timeout=60)
check("df-dict: clear the state", response.status_code == 200 and list_files() == [],
      response.text)
finish()
