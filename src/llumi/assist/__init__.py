"""Assist: the generation backends (local model, llama.cpp, any OpenAI-compatible server) and the
GGUF export that feeds llama.cpp. Importing this package imports neither torch nor xllamacpp."""
