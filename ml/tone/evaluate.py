"""`mlbot eval tone`: held-out figures for the model next to VADER and TF-IDF baselines."""
from __future__ import annotations

import time

import numpy as np
import torch

from ml.errors import ModelNotReady
from ml.home import ModelHome
from ml.runtime import fast_bf16
from ml.tone import PA, SERVICE
from ml.tone.data import Example, load_sentiment, load_tone


def binary_scores(is_pa: np.ndarray, predicted_pa: np.ndarray, pa_score: np.ndarray) -> dict:
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    return {
        "pa_f1": round(float(f1_score(is_pa, predicted_pa, zero_division=0)), 4),
        "pa_precision": round(float(precision_score(is_pa, predicted_pa, zero_division=0)), 4),
        "pa_recall": round(float(recall_score(is_pa, predicted_pa, zero_division=0)), 4),
        "pa_auc": round(float(roc_auc_score(is_pa, pa_score)), 4),
    }


@torch.inference_mode()
def predict_probabilities(model, tokenizer, texts: list[str], batch: int = 64, max_tokens: int = 128):
    """(tone probabilities, sentiment probabilities) as numpy arrays."""
    model.eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    tone = np.zeros((len(texts), 4), np.float32)
    sentiment = np.zeros((len(texts), 3), np.float32)
    for start in range(0, len(order), batch):
        index = order[start : start + batch]
        encoded = tokenizer([texts[i] for i in index], padding=True, truncation=True, max_length=max_tokens,
                            return_tensors="pt")
        tone_logits, sentiment_logits = model(encoded["input_ids"], encoded["attention_mask"])
        tone[index] = torch.softmax(tone_logits.float(), 1).numpy()
        sentiment[index] = torch.softmax(sentiment_logits.float(), 1).numpy()
    return tone, sentiment


def score_model(model, tokenizer, tone_test: list[Example], sentiment_test: list[Example]) -> dict:
    from sklearn.metrics import f1_score

    tone_probs, _ = predict_probabilities(model, tokenizer, [e.text for e in tone_test])
    labels = np.array([e.label for e in tone_test])
    predicted = tone_probs.argmax(1)
    _, sentiment_probs = predict_probabilities(model, tokenizer, [e.text for e in sentiment_test], max_tokens=64)
    sentiment_labels = np.array([e.label for e in sentiment_test])
    return {
        **binary_scores(labels == PA, predicted == PA, tone_probs[:, PA]),
        "macro_f1": round(float(f1_score(labels, predicted, average="macro")), 4),
        "sentiment_accuracy": round(float((sentiment_probs.argmax(1) == sentiment_labels).mean()), 4),
        "n": len(tone_test),
        "sentiment_n": len(sentiment_test),
    }


def vader_baseline(tone_test: list[Example], sentiment_test: list[Example]) -> dict:
    """VADER's compound score: negative enough counts as passive-aggressive (its best guess)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    compound = np.array([analyzer.polarity_scores(e.text)["compound"] for e in tone_test])
    is_pa = np.array([e.label == PA for e in tone_test])
    scores = binary_scores(is_pa, compound <= -0.05, -compound)
    sentiment = np.array([analyzer.polarity_scores(e.text)["compound"] for e in sentiment_test])
    predicted = np.where(sentiment >= 0.05, 2, np.where(sentiment <= -0.05, 0, 1))
    scores["sentiment_accuracy"] = round(float((predicted == np.array([e.label for e in sentiment_test])).mean()), 4)
    return scores


def tfidf_baseline(tone_train, tone_test, sentiment_train, sentiment_test) -> dict:
    """Word and character n-gram TF-IDF with logistic regression, fitted on the same training data."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline, make_union

    def pipeline():
        features = make_union(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                              TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True))
        return make_pipeline(features, LogisticRegression(max_iter=2000, C=4.0, class_weight="balanced"))

    tone = pipeline().fit([e.text for e in tone_train], [e.label for e in tone_train])
    probs = tone.predict_proba([e.text for e in tone_test])
    labels = np.array([e.label for e in tone_test])
    predicted = probs.argmax(1)
    scores = binary_scores(labels == PA, predicted == PA, probs[:, PA])
    scores["macro_f1"] = round(float(f1_score(labels, predicted, average="macro")), 4)
    sentiment = pipeline().fit([e.text for e in sentiment_train], [e.label for e in sentiment_train])
    predicted = sentiment.predict([e.text for e in sentiment_test])
    scores["sentiment_accuracy"] = round(float((predicted == np.array([e.label for e in sentiment_test])).mean()), 4)
    return scores


def evaluate_tone(home: ModelHome) -> dict:
    ref = home.current(SERVICE)
    if ref is None:
        raise ModelNotReady("the tone model is not built yet: run `mlbot train tone`")
    from ml.tone.predictor import TonePredictor

    started = time.perf_counter()
    predictor = TonePredictor(ref)
    tone_train, tone_test = load_tone()
    sentiment_train, sentiment_test = load_sentiment()
    # Measured as served: in bf16 where the CPU has it (see TonePredictor.probabilities).
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=fast_bf16()):
        result = score_model(predictor.model, predictor.tokenizer, tone_test, sentiment_test)
    result["bf16"] = fast_bf16()
    result["baselines"] = {
        "vader_compound": vader_baseline(tone_test, sentiment_test),
        "tfidf_logistic_regression": tfidf_baseline(tone_train, tone_test, sentiment_train, sentiment_test),
    }
    result["model_version"] = ref.version
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
