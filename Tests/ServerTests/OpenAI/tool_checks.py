#!/usr/bin/env python3
"""Tool calls through kvserve's OpenAI API, as the official `openai` SDK makes
them: the checks of sdk_checks.py (same usage, same output) plus these.

Each is a round trip: the model's call (a function named in `tool_choice`,
so the reply is primed with the call's start), the function's result sent
back (a `tool` message, or a `function_call_output` item), and the model's
answer. Greedy throughout, on a plain question: a forced call's arguments
are held to the tool's parameter schema while they are decoded, so they
parse whatever the model would have written.
The truths are OpenAI's documented shapes (the
SDK's own types, validated strictly), the same request streamed and not
(the streamed pieces must join to the non-streamed call), and the cache
(a follow-up reuses the conversation before it).
"""

import json
import sys

import jsonschema

import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response

import sdk_checks
from sdk_checks import FACTS, check, client, expect, expect_error, model_id, raw, schema_errors, sse_events

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
RESPONSES_WEATHER = dict(WEATHER["function"], type="function")
SYSTEM = "You are a helpful assistant."
ASK = "What is the weather like in Paris today?"
QUESTION = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ASK}]
RESULT = json.dumps({"city": "Paris", "temperature_c": 21, "sky": "clear"})
NAMED = {"type": "function", "function": {"name": "get_weather"}}
MAX = 48


def create(stream=False, **options):
    return client().chat.completions.create(model=model_id(), temperature=0, max_tokens=MAX, stream=stream, **options)


def streamed_call(**options):
    """A streamed completion joined as the SDK's users join it: content, and each call's id, name and arguments."""
    calls, content, finish, first = {}, "", None, {}
    for chunk in create(stream=True, **options):
        expect(not schema_errors(ChatCompletionChunk, chunk.model_dump()), f"chunk {chunk}")
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                if delta.id:
                    expect(call["id"] is None, f"call {delta.index}: a second id {delta.id!r}")
                    call["id"] = delta.id
                    first[delta.index] = delta
                if delta.function and delta.function.name:
                    call["name"] = delta.function.name
                call["arguments"] += (delta.function.arguments or "") if delta.function else ""
            finish = choice.finish_reason or finish
    for index, delta in first.items():
        expect(delta.type == "function" and delta.function.name, f"call {index}'s first delta lacks type or name: {delta}")
    return calls, content, finish


def check_call(message, finish, what):
    expect(finish == "tool_calls", f"{what}: finish_reason {finish!r}, message {message}")
    expect(message.tool_calls and len(message.tool_calls) == 1, f"{what}: tool_calls {message.tool_calls}")
    call = message.tool_calls[0]
    expect(call.type == "function" and call.id.startswith("call_"), f"{what}: call {call}")
    expect(call.function.name == "get_weather", f"{what}: function {call.function}")
    try:
        jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])
    except (ValueError, jsonschema.ValidationError) as e:
        expect(False, f"{what}: arguments {call.function.arguments!r}: {e}")
    return call


@check
def tools_chat_round_trip():
    # The call: forced, so the reply is primed with it; not streamed, then streamed.
    reply = create(messages=QUESTION, tools=[WEATHER], tool_choice=NAMED)
    raw_reply = raw("POST", "/v1/chat/completions", {"model": model_id(), "messages": QUESTION, "tools": [WEATHER],
                                                      "tool_choice": NAMED, "temperature": 0, "max_tokens": MAX})
    expect(not schema_errors(ChatCompletion, raw_reply.body), f"strict: {raw_reply}")
    message = reply.choices[0].message
    call = check_call(message, reply.choices[0].finish_reason, "the call")
    expect(message.content is None, f"content {message.content!r} beside a call")
    calls, content, finish = streamed_call(messages=QUESTION, tools=[WEATHER], tool_choice=NAMED)
    expect(finish == "tool_calls" and len(calls) == 1, f"streamed: finish {finish!r}, calls {calls}")
    expect(calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_"), f"streamed call {calls[0]}")
    expect(calls[0]["arguments"] == call.function.arguments,
           f"streamed arguments {calls[0]['arguments']!r} != non-streamed {call.function.arguments!r}")
    expect(not content.strip(), f"streamed content {content!r} beside a call")

    # The result goes back; the model answers. The conversation before the call is found in the cache.
    follow = QUESTION + [message.model_dump(exclude_none=True),
                         {"role": "tool", "tool_call_id": call.id, "content": RESULT}]
    answer = create(messages=follow, tools=[WEATHER])
    choice = answer.choices[0]
    expect(choice.finish_reason in ("stop", "length", "tool_calls"), f"answer finish_reason {choice.finish_reason!r}")
    expect(choice.message.content or choice.message.tool_calls, f"an empty answer: {choice.message}")
    cached = answer.usage.prompt_tokens_details.cached_tokens
    expect(cached >= reply.usage.prompt_tokens - sdk_checks.BLOCK - 16,
           f"the answer's cached_tokens {cached}: the {reply.usage.prompt_tokens} tokens before the call were not reused")
    expect(answer.usage.prompt_tokens > reply.usage.prompt_tokens, f"prompt_tokens {answer.usage.prompt_tokens}")
    streamed_answer = "".join(c.choices[0].delta.content or "" for c in
                              create(stream=True, messages=follow, tools=[WEATHER]) if c.choices)
    if choice.message.content is not None:
        expect(streamed_answer == choice.message.content, f"streamed answer {streamed_answer!r} != {choice.message.content!r}")

    # tool_choice none: text, no call.
    plain = create(messages=QUESTION, tools=[WEATHER], tool_choice="none")
    expect(plain.choices[0].message.tool_calls is None and plain.choices[0].finish_reason in ("stop", "length"),
           f"tool_choice none: {plain.choices[0]}")
    FACTS.update(arguments=call.function.arguments, answer=choice.message.content, answer_finish=choice.finish_reason,
                 cached_tokens=cached, prompt_tokens=answer.usage.prompt_tokens)


def function_calls(response):
    return [item for item in response.output if item.type == "function_call"]


@check
def tools_responses_round_trip():
    sdk = client()
    options = {"model": model_id(), "temperature": 0, "max_output_tokens": MAX, "tools": [RESPONSES_WEATHER],
               "instructions": SYSTEM}
    named = {"type": "function", "name": "get_weather"}
    first = sdk.responses.create(input=ASK, tool_choice=named, **options)
    calls = function_calls(first)
    expect(len(calls) == 1 and calls[0].name == "get_weather" and calls[0].call_id.startswith("call_"),
           f"output {first.output}")
    try:
        jsonschema.validate(json.loads(calls[0].arguments), RESPONSES_WEATHER["parameters"])
    except (ValueError, jsonschema.ValidationError) as e:
        expect(False, f"arguments {calls[0].arguments!r}: {e}")
    stored = raw("GET", f"/v1/responses/{first.id}")
    expect(not schema_errors(Response, stored.body), f"strict: {stored}")
    expect(stored.body["tool_choice"] == named and stored.body["tools"][0]["name"] == "get_weather",
           f"echoed tools {stored.body['tools']} and tool_choice {stored.body['tool_choice']}")

    # Streamed: the call's events, whose deltas join to the non-streamed arguments.
    events = list(sdk.responses.create(input=ASK, tool_choice=named, stream=True,
                                       store=False, **options))
    types = [e.type for e in events]
    expect("response.function_call_arguments.done" in types and types[-1] == "response.completed", f"types {types}")
    added = next(e for e in events if e.type == "response.output_item.added" and e.item.type == "function_call")
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    expect(all(e.item_id == added.item.id for e in events if e.type.startswith("response.function_call_arguments")),
           "argument events name another item")
    expect(deltas == done.arguments == calls[0].arguments, f"deltas {deltas!r}, done {done.arguments!r}, non-streamed {calls[0].arguments!r}")
    expect(function_calls(events[-1].response)[0].arguments == deltas, "the final response's call")

    # The result, continuing the stored response: its tokens are the cache.
    answer = sdk.responses.create(previous_response_id=first.id, tool_choice="none",
                                  input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": RESULT}],
                                  **options)
    expect(answer.output_text and not function_calls(answer), f"answer output {answer.output}")
    floor = first.usage.input_tokens + first.usage.output_tokens - sdk_checks.BLOCK
    cached = answer.usage.input_tokens_details.cached_tokens
    expect(cached >= floor, f"continuing: cached_tokens {cached} < {floor}")

    # Statelessly: the whole conversation as items, the call as the SDK returned it.
    items = [{"role": "user", "content": ASK}, calls[0].model_dump(exclude_none=True),
             {"type": "function_call_output", "call_id": calls[0].call_id, "output": RESULT}]
    again = sdk.responses.create(input=items, tool_choice="none", store=False, **options)
    expect(again.output_text, f"stateless answer output {again.output}")
    FACTS.update(arguments=calls[0].arguments, answer=answer.output_text, cached_tokens=cached)


@check
def tools_errors():
    body = {"model": model_id(), "messages": QUESTION, "max_tokens": 4}
    cases = [
        (dict(body, tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "launch"}}), "tool_choice"),
        (dict(body, tools=[{"type": "function", "function": {"description": "no name"}}]), "tools[0].function.name"),
        (dict(body, tools=[{"type": "code_interpreter"}]), "tools[0].type"),
        (dict(body, tool_choice="required"), "tool_choice"),
        (dict(body, messages=QUESTION + [{"role": "tool", "content": "21 C"}]), "messages[2].tool_call_id"),
    ]
    sdk = client()
    for sent, param in cases:
        error = expect_error(openai.BadRequestError, lambda: sdk.chat.completions.create(**sent), f"{sent}")
        expect(error.param == param, f"{sent}: param {error.param!r}, body {error.body}")
    r = raw("POST", "/v1/responses", {"model": model_id(), "input": "Hi", "tools": [RESPONSES_WEATHER],
                                      "tool_choice": {"type": "function", "name": "launch"}})
    expect(r.status == 400 and r.body["error"]["param"] == "tool_choice", f"responses: {r}")


if __name__ == "__main__":
    sys.exit(sdk_checks.main())
