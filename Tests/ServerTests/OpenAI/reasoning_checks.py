#!/usr/bin/env python3
"""Reasoning-model conversations through the official openai SDK, for
ReasoningModelTests.swift.

Runs CONVERSATIONS conversations of TURNS turns each, resending the whole
conversation statelessly every turn (each reply sent back as its `content`,
as clients do), against two kvserve servers on the same model and template:
--base-url re-renders each turn's conversation as the next request will
render it, --cold-url does not (a tests-only switch), so it computes from the
first re-rendered token. Every request goes to both; the replies must be the
same. Every other turn streams to the first and not to the second (the other
turns the other way round): streamed `delta.reasoning_content` and
`delta.content`, joined, must equal the whole message's fields.

Writes JSON to --out: {"variants": [{"kwargs", "conversations": [[turn...]]}]},
each turn {"messages", "stream", "content", "reasoning", "prompt_tokens",
"cached_tokens", "completion_tokens", "reasoning_tokens", "finish_reason",
"cold": {same fields}}. Exits non-zero only when a request fails; the Swift
test judges the numbers.
"""

import argparse
import json
import sys

import openai

QUESTIONS = [
    ["What is the capital of France?", "And of Italy?", "Name a river there.", "Thanks, bye."],
    ["Give me a word that rhymes with cat.", "Another one?", "Use both in a sentence.", "Shorter, please."],
    ["What is 2 + 2?", "And 3 + 5?", "Which is larger?", "Why?"],
    ["Name a colour.", "Name a fruit of that colour.", "Is it sweet?", "Where does it grow?"],
]


def ask(client, messages, kwargs, budget, stream, max_tokens):
    extra = {}
    if kwargs is not None:
        extra["chat_template_kwargs"] = kwargs
    if budget is not None:
        extra["max_reasoning_tokens"] = budget
    if stream:
        content, reasoning, usage, finish = "", "", None, None
        chunks = client.chat.completions.create(model="m", messages=messages, max_tokens=max_tokens, temperature=0,
                                                stream=True, stream_options={"include_usage": True}, extra_body=extra)
        for chunk in chunks:
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                content += choice.delta.content or ""
                reasoning += (choice.delta.model_extra or {}).get("reasoning_content") or ""
                finish = choice.finish_reason or finish
    else:
        r = client.chat.completions.create(model="m", messages=messages, max_tokens=max_tokens, temperature=0, extra_body=extra)
        m = r.choices[0].message
        content, usage, finish = m.content, r.usage, r.choices[0].finish_reason
        reasoning = (m.model_extra or {}).get("reasoning_content") or ""
    return {"content": content, "reasoning": reasoning, "prompt_tokens": usage.prompt_tokens,
            "cached_tokens": usage.prompt_tokens_details.cached_tokens, "completion_tokens": usage.completion_tokens,
            "reasoning_tokens": usage.completion_tokens_details.reasoning_tokens, "finish_reason": finish}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--cold-url", required=True)
    ap.add_argument("--variants", required=True, help="JSON list of chat_template_kwargs (null: none sent)")
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--max-tokens", type=int, default=40)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    warm = openai.OpenAI(base_url=args.base_url + "/v1", api_key="none", max_retries=0)
    cold = openai.OpenAI(base_url=args.cold_url + "/v1", api_key="none", max_retries=0)
    variants = []
    for kwargs in json.loads(args.variants):
        conversations = []
        for questions in QUESTIONS:
            messages, turns = [{"role": "system", "content": "You are a helpful assistant."}], []
            for t, question in enumerate(questions):
                messages.append({"role": "user", "content": question})
                stream = t % 2 == 1
                turn = ask(warm, messages, kwargs, args.budget, stream, args.max_tokens)
                # The other way of reading a reply: streamed chunks against the whole message.
                turn["cold"] = ask(cold, messages, kwargs, args.budget, not stream, args.max_tokens)
                turn["messages"] = list(messages)
                turn["stream"] = stream
                turns.append(turn)
                messages.append({"role": "assistant", "content": turn["content"]})
            conversations.append(turns)
        variants.append({"kwargs": kwargs, "conversations": conversations})
    with open(args.out, "w") as f:
        json.dump({"variants": variants}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
