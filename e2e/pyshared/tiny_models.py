"""Tiny models and data sets for the fine-tuning tests, built here and pushed to Haven.

Nothing is downloaded: the tokenizers are built from the data sets' own words
with `tokenizers`, the models are randomly initialised from small configs, and
the data sets are written as parquet. Everything is small enough to train for a
few epochs on two CPU cores in seconds.

It needs torch, transformers, tokenizers, datasets and sentence-transformers,
so it runs with the training environment's python (mlstack/requirements.txt):

    python tiny_models.py NAMESPACE [PREFIX]

with HF_ENDPOINT and HF_TOKEN set. It pushes every fixture and prints one JSON
object mapping each fixture's role to its repository id.
"""

import json
import os
import random
import re
import sys
import tempfile

POSITIVE = ["good", "great", "excellent", "wonderful", "lovely", "superb", "fantastic", "delightful"]
NEGATIVE = ["bad", "awful", "terrible", "horrible", "dreadful", "poor", "boring", "disappointing"]
SUBJECTS = ["the movie", "this book", "the food", "our hotel", "the service", "that show", "the concert",
            "my phone", "the game", "this album"]
VERBS = ["was", "is", "seemed", "felt", "looked"]
ADVERBS = ["really", "very", "quite", "truly", "so", "rather"]

PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
CITIES = ["paris", "london", "berlin", "madrid", "rome", "vienna", "oslo", "lisbon"]
TOKEN_TEMPLATES = [
    ["{p}", "lives", "in", "{c}"],
    ["{p}", "flew", "to", "{c}", "yesterday"],
    ["we", "met", "{p}", "in", "{c}"],
    ["{c}", "is", "where", "{p}", "works"],
    ["{p}", "and", "{q}", "visited", "{c}"],
]
TAGS = ["O", "PER", "LOC"]

TOPICS = {
    "dog": (["a dog runs in the park", "the puppy plays with a ball", "a dog barks at the door"],
            ["a puppy is running outside", "the dog chases a ball", "a hound barks loudly"]),
    "food": (["i cooked pasta for dinner", "the soup is hot", "we baked bread today"],
             ["dinner was homemade pasta", "a bowl of warm soup", "fresh bread from the oven"]),
    "car": (["the car needs fuel", "he drives a red car", "the engine will not start"],
            ["the vehicle is out of gas", "a red automobile on the road", "the motor is broken"]),
    "rain": (["it rains all day", "take an umbrella today", "the streets are wet"],
             ["a rainy day outside", "the umbrella keeps you dry", "wet roads after the storm"]),
}

COLORS = ["red", "green", "blue", "yellow", "black", "white"]
ANIMALS = ["cat", "dog", "bird", "fish", "horse", "cow"]


def sentiment_rows(n=200, seed=0):
    """A linearly separable sentiment set: the label is the sentiment word's list.

    The float column rating is there to be refused as a label.
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        word = rng.choice(POSITIVE if label else NEGATIVE)
        text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(ADVERBS)} {word}"
        rows.append({"text": text, "label": label, "rating": round(rng.uniform(3.5, 5) if label else rng.uniform(0, 1.5), 1)})
    rng.shuffle(rows)
    return rows


def token_rows(n=160, seed=1):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        p, q = rng.sample(PEOPLE, 2)
        c = rng.choice(CITIES)
        tokens, tags = [], []
        for w in rng.choice(TOKEN_TEMPLATES):
            word = w.format(p=p, q=q, c=c)
            tokens.append(word)
            tags.append(1 if w in ("{p}", "{q}") else 2 if w == "{c}" else 0)
        rows.append({"tokens": tokens, "tags": tags})
    return rows


def pair_rows(n=96, seed=2):
    rng = random.Random(seed)
    rows = []
    topics = sorted(TOPICS)
    for i in range(n):
        anchors, positives = TOPICS[topics[i % len(topics)]]
        rows.append({"anchor": rng.choice(anchors), "positive": rng.choice(positives)})
    return rows


def sft_rows(n=96, seed=3):
    """Prompt/completion pairs with an easy rule: name the colour of an animal back."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        color, animal = rng.choice(COLORS), rng.choice(ANIMALS)
        rows.append({"prompt": f"what colour is the {color} {animal} ?", "completion": f" it is {color} ."})
    return rows


def words(texts):
    out = set()
    for t in texts:
        out.update(re.findall(r"\w+|[^\w\s]", t.lower()))
    return out


def bert_words():
    texts = [r["text"] for r in sentiment_rows()]
    texts += [" ".join(r["tokens"]) for r in token_rows()]
    for anchors, positives in TOPICS.values():
        texts += anchors + positives
    return sorted(words(texts))


def build_bert_tokenizer(folder):
    """A WordPiece tokenizer over the data sets' words, saved as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = {tok: i for i, tok in enumerate(specials + bert_words())}
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.decoder = decoders.WordPiece()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", model_max_length=128)
    fast.save_pretrained(folder)
    return fast


def build_bert(folder):
    import torch
    from transformers import BertConfig, BertModel

    tok = build_bert_tokenizer(folder)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, pad_token_id=tok.pad_token_id)
    BertModel(cfg).save_pretrained(folder)


def build_causal(folder):
    """A two-layer Llama with a byte-level BPE tokenizer trained on the SFT set."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    eos = "<|endoftext|>"
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    texts = [r["prompt"] + r["completion"] for r in sft_rows()]
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=400, special_tokens=[eos, "<|user|>", "<|assistant|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, pad_token=eos, bos_token=eos,
                                   model_max_length=256)
    fast.chat_template = (
        "{% for m in messages %}{{ '<|' + m['role'] + '|>' + m['content'] + eos_token }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=256,
                      eos_token_id=fast.eos_token_id, bos_token_id=fast.eos_token_id, pad_token_id=fast.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)


def build_sentence_transformer(bert_folder, folder):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    word = Transformer(bert_folder, max_seq_length=64)
    pool = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pool]).save(folder, create_model_card=False)


def push_folder(api, repo_id, folder, repo_type="model"):
    api.create_repo(repo_id, repo_type=repo_type, exist_ok=True)
    return api.upload_folder(repo_id=repo_id, repo_type=repo_type, folder_path=folder,
                             commit_message="tiny test fixture").oid


def write_parquet(folder, split, rows, features):
    from datasets import Dataset

    os.makedirs(os.path.join(folder, "data"), exist_ok=True)
    Dataset.from_list(rows, features=features).to_parquet(
        os.path.join(folder, "data", f"{split}-00000-of-00001.parquet"))


def build_datasets(root):
    """Four data set folders: sentiment, tokens (train + validation), sft and pairs."""
    from datasets import ClassLabel, Features, List, Value

    out = {}
    f = os.path.join(root, "sentiment")
    write_parquet(f, "train", sentiment_rows(),
                  Features({"text": Value("string"), "label": ClassLabel(names=["negative", "positive"]),
                            "rating": Value("float32")}))
    out["sentiment"] = f
    f = os.path.join(root, "tokens")
    feats = Features({"tokens": List(Value("string")), "tags": List(ClassLabel(names=TAGS))})
    rows = token_rows()
    write_parquet(f, "train", rows[:128], feats)
    write_parquet(f, "validation", rows[128:], feats)
    out["tokens"] = f
    f = os.path.join(root, "sft")
    write_parquet(f, "train", sft_rows(), Features({"prompt": Value("string"), "completion": Value("string")}))
    out["sft"] = f
    f = os.path.join(root, "pairs")
    write_parquet(f, "train", pair_rows(), Features({"anchor": Value("string"), "positive": Value("string")}))
    out["pairs"] = f
    return out


def build_and_push(namespace, prefix="tiny", endpoint=None, token=None):
    """Builds every fixture and pushes it under namespace; returns {role: repo id}."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    repos = {}
    with tempfile.TemporaryDirectory() as tmp:
        bert = os.path.join(tmp, "bert")
        build_bert(bert)
        repos["bert"] = f"{namespace}/{prefix}-bert"
        push_folder(api, repos["bert"], bert)
        st = os.path.join(tmp, "st")
        build_sentence_transformer(bert, st)
        repos["sentence_transformer"] = f"{namespace}/{prefix}-st"
        push_folder(api, repos["sentence_transformer"], st)
        causal = os.path.join(tmp, "causal")
        build_causal(causal)
        repos["causal"] = f"{namespace}/{prefix}-llama"
        push_folder(api, repos["causal"], causal)
        for role, folder in build_datasets(os.path.join(tmp, "datasets")).items():
            repos[role] = f"{namespace}/{prefix}-{role}"
            push_folder(api, repos[role], folder, repo_type="dataset")
    return repos


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit("usage: tiny_models.py NAMESPACE [PREFIX]  (with HF_ENDPOINT and HF_TOKEN set)")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    repos = build_and_push(argv[1], *(argv[2:]))
    print(json.dumps(repos), flush=True)


if __name__ == "__main__":
    main(sys.argv)
