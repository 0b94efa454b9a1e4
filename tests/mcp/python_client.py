"""`get-token mcp` driven by the Python MCP SDK (`mcp`, the reference client), against the standalone emulator.

Run by .ci/mcp-python-test: GET_TOKEN is the binary, HOME holds the emulator's .env and connections.json, and
ACCESS_TOKEN_FILE names nothing secret: the script never sees a token, it checks the server never sends one.
Exits non-zero on any failure.
"""

import asyncio
import json
import os
import sys
import urllib.request

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

GET_TOKEN = os.environ["GET_TOKEN"]
elicited = []
completed = []
sent = []  # every message the server sent


def approve(link: str) -> None:
    # What the user's browser does: open the link, press Approve, follow the redirects (to get-token's
    # listener, which completes the user verification the emulator asks for).
    urllib.request.urlopen(link, timeout=10).read()
    request = urllib.request.Request(link + "/approve", data=b"", method="POST")
    page = urllib.request.urlopen(request, timeout=20).read().decode()
    assert "onnected" in page, page


async def on_elicit(context, params):
    elicited.append(params)
    assert params.mode == "url", params
    # The listener starts once the server hears "accept": approve a moment later, in the background.
    async def later():
        await asyncio.sleep(0.5)
        await asyncio.to_thread(approve, params.url)
    asyncio.get_running_loop().create_task(later())
    return types.ElicitResult(action="accept")


async def on_message(message):
    sent.append(message)
    if isinstance(message, types.ServerNotification) and isinstance(
        message.root, types.ElicitCompleteNotification
    ):
        completed.append(message.root.params.elicitationId)


def result_json(result) -> dict:
    assert not result.isError, result
    return json.loads(result.content[0].text)


async def main() -> None:
    server = StdioServerParameters(command=GET_TOKEN, args=["mcp"], env=dict(os.environ))
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, elicitation_callback=on_elicit, message_handler=on_message) as session:
            init = await session.initialize()
            assert init.serverInfo.name == "tokenbroker", init
            tools = {t.name for t in (await session.list_tools()).tools}
            assert tools == {"list_services", "status", "authorize", "verify", "request"}, tools

            listed = result_json(await session.call_tool("list_services", {}))
            assert [s["ready"] for s in listed["services"]] == [False], listed

            done = result_json(await session.call_tool("authorize", {"service": "gmail"}))
            assert done["status"] == "ok", done
            assert len(elicited) == 1 and "/magic/" in elicited[0].url, elicited
            for _ in range(100):
                if completed:
                    break
                await asyncio.sleep(0.05)
            assert completed == [elicited[0].elicitationId], (completed, elicited)

            status = result_json(await session.call_tool("status", {"service": "gmail"}))
            assert status["services"][0]["account_status"] == "ACTIVE", status
            # Bad arguments are a tool result with isError (MCP 2025-11-25), which the model can correct.
            refused = await session.call_tool("status", {"service": "nope"})
            assert refused.isError, refused
            assert "not one of this server's services" in refused.content[0].text, refused
    print("mcp python client: initialize, tools/list, list_services, authorize by URL elicitation, status: ok")


asyncio.run(main())
