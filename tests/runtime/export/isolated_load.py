"""Run in a subprocess (``python -I``) where Agent Forge cannot be imported: load each
export with ``trust_remote_code=True`` and print, as one JSON list, its logits on the given
ids and a greedy generation. Arguments: the checkout to keep off the path, the ids
(comma-separated), then the export directories."""

import importlib.util
import json
import sys

REPO = sys.argv[1]
sys.path[:] = [p for p in sys.path if p not in ("", ".") and not p.startswith(REPO)]
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path_hooks[:] = [h for h in sys.path_hooks if "editable" not in repr(h).lower()]
sys.path_importer_cache.clear()

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402


def report(path: str, ids: list[int]) -> dict:
    model = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=True)
    chat = tokenizer.apply_chat_template([{"role": "user", "content": "What is 2 + 3?"}],
                                         add_generation_prompt=True, return_tensors="pt",
                                         return_dict=True)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].tolist()
        out = model.generate(**chat, max_new_tokens=4, do_sample=False)
    return {"class_module": type(model).__module__, "logits": logits,
            "generated": out[0].tolist(), "prompt_length": chat["input_ids"].shape[1],
            "sep_id": tokenizer.convert_tokens_to_ids("<|sep|>")}


ids = [int(i) for i in sys.argv[2].split(",")]
reports = [report(path, ids) for path in sys.argv[3:]]
print(json.dumps({
    "runtime_importable": importlib.util.find_spec("runtime") is not None,
    "agent_forge_loaded": any(m.split(".")[0] in ("runtime", "forgelang") for m in sys.modules),
    "reports": reports}))
