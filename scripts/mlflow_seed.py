"""Seeds an MLflow server (MLFLOW_TRACKING_URI) with what the MLflow connector must read.

Two registered models with versions, descriptions, owner tags and aliases; their runs with
params, metrics, tags and a dataset input whose source names a warehouse table; models
logged with a signature of named, typed input columns. A third model has no signature, as
in the field. Names and values are fixed, so tests can assert on them.
"""

import mlflow
import pandas as pd
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

MLFLOW_3 = int(mlflow.__version__.split(".")[0]) >= 3


class Scorer(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [0.5] * len(model_input)


def train(name, table, features, params, metrics):
    """One run: params, metrics, the dataset it read, and a model with a signature."""
    frame = pd.DataFrame({column: [1.0, 2.0] if kind == "double" else [1, 2]
                          for column, kind in features})
    # The source names the warehouse table; the connector maps it to a catalog table.
    dataset = mlflow.data.from_pandas(frame, source=f"https://warehouse.example/hive/{table}",
                                      name=table)
    with mlflow.start_run(run_name=f"train-{name}") as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tag("team", "scoring")
        mlflow.log_input(dataset, context="training")
        signature = infer_signature(frame, pd.Series([0.5, 0.5]))
        # MLflow 3 names logged models; MLflow 2 keeps them under a run's artifact path.
        where = {"name": "model"} if MLFLOW_3 else {"artifact_path": "model"}
        info = mlflow.pyfunc.log_model(python_model=Scorer(), signature=signature,
                                       registered_model_name=name, **where)
    return run.info.run_id, info


def main():
    client = MlflowClient()
    mlflow.set_experiment("churn")
    churn = [("avg_check_30d", "double"), ("calls_7d", "long"), ("tenure_months", "long")]
    train("churn_model", "dwh.client_marts.features_daily", churn[:2],
          {"max_depth": "6", "learning_rate": "0.1"}, {"auc": 0.81})
    train("churn_model", "dwh.client_marts.features_daily", churn,
          {"max_depth": "8", "learning_rate": "0.05"}, {"auc": 0.84})
    client.update_registered_model("churn_model", description="Predicts churn within 30 days")
    client.set_registered_model_tag("churn_model", "owner", "churn-squad")
    client.set_registered_model_alias("churn_model", "champion", "2")
    client.set_registered_model_alias("churn_model", "challenger", "1")

    mlflow.set_experiment("fraud")
    train("fraud_model", "dwh.payments.txn_features",
          [("amount_z", "double"), ("merchant_risk", "double")],
          {"n_estimators": "200"}, {"precision": 0.92})
    client.set_registered_model_tag("fraud_model", "owner", "risk-team")
    client.set_registered_model_alias("fraud_model", "champion", "1")

    # Registered without a logged model: no signature to read features from.
    client.create_registered_model("legacy_scorecard", description="Kept in a spreadsheet")
    print("seeded: churn_model (2 versions), fraud_model (1), legacy_scorecard (none)")


if __name__ == "__main__":
    main()
