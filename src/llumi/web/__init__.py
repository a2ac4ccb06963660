"""The self-hosted web app and OpenAI-compatible API (`llumi serve`): supporter pages, admin page,
``/v1/chat/completions`` with models ``llumi-gm`` and ``llumi-im``, and the safety endpoints.

Needs the ``web`` extra (FastAPI, uvicorn, Jinja2, argon2-cffi, itsdangerous, python-multipart)."""
