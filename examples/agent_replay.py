#!/usr/bin/python3
"""An LLM agent loop over a kernelmq session, with no network and no model:
a scripted model replays agent_transcript.json (what a model said and which
`python` tool calls it made), while the tool calls really run in a kernel.

    PYTHONPATH=client/python /usr/bin/python3 examples/agent_replay.py
        [--endpoint tcp://HOST:PORT] [--transcript FILE] [--outputs DIR]

Without --endpoint it starts a private broker (kernelmq.Client.local()). To
drive a real model, replace ScriptedModel with a client for your provider:
the loop, tools.openai_tool() / tools.anthropic_tool() and tools.run_tool()
stay as they are.
"""
import argparse
import json
import os
import sys
from typing import Any, Dict, List

import kernelmq
from kernelmq import tools

HERE = os.path.dirname(os.path.abspath(__file__))


class ScriptedModel:
    """Answers each call with the transcript's next assistant turn, whatever
    the conversation holds: a stand-in for a chat-completions client."""

    def __init__(self, turns: List[Dict[str, Any]]) -> None:
        self.turns = list(turns)

    def complete(self, messages: List[Dict[str, Any]],
                 tool_specs: List[Dict[str, Any]]) -> Dict[str, Any]:
        assert any(spec["function"]["name"] == "python" for spec in tool_specs)
        if not self.turns:
            return {"role": "assistant", "content": "(the transcript has ended)"}
        turn = self.turns.pop(0)
        return {"role": "assistant", "content": turn.get("assistant", ""),
                "tool_calls": [{"id": call["id"], "type": "function",
                                "function": {"name": call["name"],
                                             "arguments": json.dumps(call["arguments"])}}
                               for call in turn.get("tool_calls", [])]}


def agent_loop(model: ScriptedModel, session: kernelmq.Session, user: str,
               outputs: str, max_steps: int = 10) -> List[Dict[str, Any]]:
    """Runs the model until it answers without a tool call; returns the
    conversation (OpenAI message shapes)."""
    messages: List[Dict[str, Any]] = [{"role": "user", "content": user}]
    for _ in range(max_steps):
        reply = model.complete(messages, [tools.openai_tool()])
        messages.append(reply)
        print("assistant: %s" % reply["content"])
        if not reply.get("tool_calls"):
            break
        for call in reply["tool_calls"]:
            print("  python> %s" % call["function"]["arguments"])
            observation = tools.run_tool(session, call["function"]["arguments"],
                                         output_dir=outputs)
            print("  " + observation.replace("\n", "\n  "))
            messages.append({"role": "tool", "tool_call_id": call["id"],
                             "content": observation})
    return messages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", help="a running broker (default: a private one)")
    parser.add_argument("--transcript", default=os.path.join(HERE, "agent_transcript.json"))
    parser.add_argument("--data", default=os.path.join(HERE, "sales.csv"))
    parser.add_argument("--outputs", default="agent-outputs",
                        help="where figures and tables are saved")
    args = parser.parse_args()
    with open(args.transcript) as f:
        transcript = json.load(f)
    client = kernelmq.Client(args.endpoint) if args.endpoint else kernelmq.Client.local()
    with client, client.session() as session:
        session.upload(os.path.basename(args.data), args.data, format="file")
        print("user: %s" % transcript["user"])
        agent_loop(ScriptedModel(transcript["turns"]), session, transcript["user"],
                   args.outputs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
