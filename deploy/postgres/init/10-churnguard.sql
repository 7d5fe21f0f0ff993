-- The prediction log's database beside MLflow's (run once, when the data volume is empty).
-- The API creates its tables itself on first connection.
CREATE DATABASE churnguard OWNER mlflow;
