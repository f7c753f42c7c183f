#!/usr/bin/python3
"""The batches of the seq2seq collator goldens (tests/data/goldens/seq2seq/
batches.json), made by transformers 4.56's DataCollatorForSeq2Seq written
out in plain Python and torch (Debian's torch 1.13; there is no
`transformers` package here), with the parts of PreTrainedTokenizerBase.pad
and T5's _shift_right it calls. The token ids come from
tests/data/goldens/seq2seq/tokenized.json (the HF tokenizers Node binding:
tests/reference/seq2seq_tokenize.js). Never part of make check:

    /usr/bin/python3 tests/reference/seq2seq_collator.py

Each case names a tokenized dataset of tokenized.json, the collator's
arguments, and its batches as lists of row indices; a batch is the
collator's output as lists, or the error HF raises (torch.tensor on rows
of different lengths), which libmlm must refuse too.
"""
import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLD = os.path.join(ROOT, "tests", "data", "goldens", "seq2seq")
LARGE_INTEGER = int(1e20)  # transformers' VERY_LARGE_INTEGER is 1e30; any larger than 2^31 does


class PadTokenizer:
    """What DataCollatorForSeq2Seq uses of a tokenizer: pad() (from
    tokenization_utils_base.py: _get_padding_truncation_strategies, pad,
    _pad), padding_side, pad_token_id, model_max_length, for T5's
    model_input_names ["input_ids", "attention_mask"]."""

    model_input_names = ["input_ids", "attention_mask"]
    pad_token_type_id = 0

    def __init__(self, pad_token_id, padding_side="right", model_max_length=512):
        self.pad_token_id = pad_token_id
        self.padding_side = padding_side
        self.model_max_length = model_max_length

    def pad(self, features, padding=True, max_length=None, pad_to_multiple_of=None,
            return_tensors="pt"):
        # list of dicts -> dict of lists, as pad() does
        encoded = {key: [f[key] for f in features] for key in features[0].keys()}
        # _get_padding_truncation_strategies
        if padding is False or padding == "do_not_pad":
            strategy = "do_not_pad"
        elif padding is True or padding == "longest":
            strategy = "longest"
        else:
            strategy = "max_length"
        if max_length is None and strategy == "max_length":
            if self.model_max_length > LARGE_INTEGER:
                strategy = "do_not_pad"  # "Default to no padding" (a warning)
            else:
                max_length = self.model_max_length
        if strategy != "do_not_pad" and self.pad_token_id is None:
            raise ValueError("Asking to pad but the tokenizer does not have a padding token.")
        required = encoded["input_ids"]
        if strategy == "longest":
            max_length = max(len(x) for x in required)
            strategy = "max_length"
        out = {}
        for i in range(len(required)):
            inputs = {k: list(v[i]) for k, v in encoded.items()}
            outputs = self._pad(inputs, max_length, strategy, pad_to_multiple_of)
            for k, v in outputs.items():
                out.setdefault(k, []).append(v)
        # BatchEncoding(tensor_type="pt"): torch.tensor of each key
        return {k: torch.tensor(v) for k, v in out.items()}

    def _pad(self, enc, max_length, strategy, pad_to_multiple_of):
        required = enc["input_ids"]
        if (max_length is not None and pad_to_multiple_of is not None
                and max_length % pad_to_multiple_of != 0):
            max_length = ((max_length // pad_to_multiple_of) + 1) * pad_to_multiple_of
        needs = strategy != "do_not_pad" and len(required) != max_length
        if "attention_mask" not in enc:  # return_attention_mask: in model_input_names
            enc["attention_mask"] = [1] * len(required)
        if needs:
            d = max_length - len(required)
            if self.padding_side == "right":
                enc["attention_mask"] = enc["attention_mask"] + [0] * d
                if "token_type_ids" in enc:
                    enc["token_type_ids"] = enc["token_type_ids"] + [self.pad_token_type_id] * d
                enc["input_ids"] = required + [self.pad_token_id] * d
            else:
                enc["attention_mask"] = [0] * d + enc["attention_mask"]
                if "token_type_ids" in enc:
                    enc["token_type_ids"] = [self.pad_token_type_id] * d + enc["token_type_ids"]
                enc["input_ids"] = [self.pad_token_id] * d + required
        return enc


class T5Shift:
    """T5PreTrainedModel._shift_right as prepare_decoder_input_ids_from_labels."""

    def __init__(self, decoder_start_token_id, pad_token_id):
        self.decoder_start_token_id = decoder_start_token_id
        self.pad_token_id = pad_token_id

    def prepare_decoder_input_ids_from_labels(self, labels):
        if self.decoder_start_token_id is None:
            raise ValueError("self.model.config.decoder_start_token_id has to be defined.")
        shifted = labels.new_zeros(labels.shape)
        shifted[..., 1:] = labels[..., :-1].clone()
        shifted[..., 0] = self.decoder_start_token_id
        if self.pad_token_id is None:
            raise ValueError("self.model.config.pad_token_id has to be defined.")
        shifted.masked_fill_(shifted == -100, self.pad_token_id)
        return shifted


class DataCollatorForSeq2Seq:
    """data/data_collator.py's DataCollatorForSeq2Seq.__call__, return_tensors "pt"."""

    def __init__(self, tokenizer, model=None, padding=True, max_length=None,
                 pad_to_multiple_of=None, label_pad_token_id=-100):
        self.tokenizer = tokenizer
        self.model = model
        self.padding = padding
        self.max_length = max_length
        self.pad_to_multiple_of = pad_to_multiple_of
        self.label_pad_token_id = label_pad_token_id

    def __call__(self, features):
        label_name = "label" if "label" in features[0] else "labels"
        labels = [f[label_name] for f in features] if label_name in features[0] else None
        if labels is not None and all(label is None for label in labels):
            labels = None
        non_labels = [{k: v for k, v in f.items() if k != label_name} for f in features]
        batch = self.tokenizer.pad(non_labels, padding=self.padding, max_length=self.max_length,
                                   pad_to_multiple_of=self.pad_to_multiple_of,
                                   return_tensors="pt")
        no_padding = self.padding is False or self.padding == "do_not_pad"
        if labels is not None:
            if no_padding:
                batch["labels"] = list(labels)
            else:
                max_padding = self.padding == "max_length" and self.max_length is not None
                max_label_length = (max(len(l) for l in labels) if not max_padding
                                    else self.max_length)
                if self.pad_to_multiple_of is not None:
                    max_label_length = ((max_label_length + self.pad_to_multiple_of - 1)
                                        // self.pad_to_multiple_of * self.pad_to_multiple_of)
                side = self.tokenizer.padding_side
                batch["labels"] = [
                    label + [self.label_pad_token_id] * (max_label_length - len(label))
                    if side == "right"
                    else [self.label_pad_token_id] * (max_label_length - len(label)) + label
                    for label in labels
                ]
        if batch.get("labels", None) is not None:
            batch["labels"] = torch.tensor(batch["labels"], dtype=torch.int64)
        else:
            batch["labels"] = None
        if (labels is not None and self.model is not None
                and hasattr(self.model, "prepare_decoder_input_ids_from_labels")):
            batch["decoder_input_ids"] = self.model.prepare_decoder_input_ids_from_labels(
                labels=batch["labels"])
        return batch


def chunks(order, size):
    return [order[i:i + size] for i in range(0, len(order), size)]


T5 = {"decoder_start_token_id": 0, "pad_token_id": 0}  # t5-small's config.json
EOS, PAD = 1, 0  # t5-small: </s>, <pad>
SHUFFLED = [9, 3, 1, 0, 5, 7, 2, 8, 4, 6]

# name: (tokenized case, with attention_mask, collator arguments, batches)
CASES = {
    # the seed: pad_token = eos_token, model=None, features without attention_mask
    "seed_pad_eos": ("seed", False, {"pad_token_id": EOS}, chunks(list(range(10)), 2)),
    "seed_model": ("seed", True, {"pad_token_id": EOS, "model": T5}, chunks(SHUFFLED, 3)),
    "multiple_of_8": ("prefix", True, {"pad_token_id": PAD, "model": T5,
                                       "pad_to_multiple_of": 8}, chunks(list(range(10)), 4)),
    "max_length": ("prefix", True, {"pad_token_id": EOS, "model": T5, "padding": "max_length",
                                    "max_length": 32}, chunks(SHUFFLED, 4)),
    "max_length_model_max": ("prefix", True, {"pad_token_id": EOS, "padding": "max_length",
                                              "model_max_length": 512}, chunks(SHUFFLED, 5)),
    "max_length_multiple": ("prefix", True, {"pad_token_id": PAD, "model": T5,
                                             "padding": "max_length", "max_length": 30,
                                             "pad_to_multiple_of": 8}, chunks(SHUFFLED, 4)),
    "left": ("seed", True, {"pad_token_id": EOS, "model": T5, "padding_side": "left"},
             chunks(SHUFFLED, 4)),
    "left_no_mask": ("prefix", False, {"pad_token_id": EOS, "padding_side": "left",
                                       "pad_to_multiple_of": 8}, chunks(list(range(10)), 3)),
    "no_padding": ("pad_max_length", True, {"pad_token_id": EOS, "model": T5, "padding": False},
                   chunks(SHUFFLED, 5)),
    "label_pad_0": ("seed", True, {"pad_token_id": PAD, "model": T5, "label_pad_token_id": 0},
                    chunks(list(range(10)), 5)),
    "skip_empty": ("skip_empty", True, {"pad_token_id": EOS}, chunks(list(range(8)), 3)),
    # HF fails: torch.tensor over rows of different lengths
    "error_too_long": ("seed", True, {"pad_token_id": EOS, "padding": "max_length",
                                      "max_length": 16}, [[0, 1]]),
    "error_ragged": ("seed", True, {"pad_token_id": EOS, "padding": False}, [[0, 1]]),
}


def lists(t):
    return t.tolist() if isinstance(t, torch.Tensor) else [list(x) for x in t]


def main():
    with open(os.path.join(GOLD, "tokenized.json"), encoding="utf-8") as f:
        tok = json.load(f)
    out = {"generated_by": "tests/reference/seq2seq_collator.py", "torch": torch.__version__,
           "tokenized": "tests/data/goldens/seq2seq/tokenized.json", "cases": {}}
    for name, (data, with_mask, args, batches) in CASES.items():
        d = tok["cases"][data]
        tokenizer = PadTokenizer(args["pad_token_id"], args.get("padding_side", "right"),
                                 args.get("model_max_length", 512))
        model = T5Shift(**args["model"]) if "model" in args else None
        collator = DataCollatorForSeq2Seq(
            tokenizer, model=model, padding=args.get("padding", True),
            max_length=args.get("max_length"), pad_to_multiple_of=args.get("pad_to_multiple_of"),
            label_pad_token_id=args.get("label_pad_token_id", -100))
        results = []
        for rows in batches:
            features = []
            for r in rows:
                f = {"input_ids": d["input_ids"][r]}
                if with_mask:
                    f["attention_mask"] = d["attention_mask"][r]
                f["labels"] = d["labels"][r]
                features.append(f)
            try:
                b = collator(features)
            except ValueError as e:  # torch.tensor: "expected sequence of length ..."
                results.append({"rows": rows, "error": str(e)})
                continue
            results.append({"rows": rows, "batch": {k: lists(v) for k, v in b.items()
                                                    if v is not None}})
        out["cases"][name] = {"data": data, "attention_mask": with_mask, "collator": args,
                              "batches": results}
    with open(os.path.join(GOLD, "batches.json"), "w", encoding="utf-8") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
