"""Special tokens shared by the tokenizer, the prompt format and the evaluation harness.

Torch-free on purpose: the task suite and its markup are pure Python.
"""

PAD = "<|pad|>"
BOS = "<|bos|>"
EOS = "<|eos|>"
UNK = "<|unk|>"
THOUGHT_START = "<|startofthought|>"
THOUGHT_END = "<|endofthought|>"
TOOL_OPEN = "<|tool|>"
TOOL_CLOSE = "<|/tool|>"
RESULT_OPEN = "<|result|>"
RESULT_CLOSE = "<|/result|>"
SEP = "<|sep|>"

# The order fixes the ids: pad=0, bos=1, eos=2, unk=3, ... in every tokenizer we build.
SPECIAL_TOKENS: tuple[str, ...] = (
    PAD, BOS, EOS, UNK, THOUGHT_START, THOUGHT_END,
    TOOL_OPEN, TOOL_CLOSE, RESULT_OPEN, RESULT_CLOSE, SEP,
)
