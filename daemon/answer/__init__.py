"""Answering a question: retrieve, evidence, the grounded prompt, citations, guardrails,
the learned path, and the pipeline that runs them."""
