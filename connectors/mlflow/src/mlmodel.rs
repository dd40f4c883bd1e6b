//! The MLmodel file: a model's flavors and its signature, whose inputs are the features.

use serde::Deserialize;

/// What the connector takes from an MLmodel file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Signature {
    /// Named input columns, in order.
    pub inputs: Vec<Input>,
    /// The flavor's loader (`mlflow.sklearn`), standing for the algorithm's family.
    pub algorithm: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Input {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: Option<String>,
    #[serde(default = "required")]
    pub required: bool,
}

fn required() -> bool {
    true
}

#[derive(Deserialize)]
struct MlModel {
    signature: Option<RawSignature>,
    #[serde(default)]
    flavors: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawSignature {
    /// A JSON text: `[{"type": "double", "name": "amount", "required": true}, …]`.
    inputs: Option<String>,
}

/// The signature of an MLmodel file; `None` when it has none. Tensor inputs (no names)
/// give no features.
pub(crate) fn signature(text: &str) -> Result<Option<Signature>, String> {
    let file: MlModel =
        serde_saphyr::from_str(text).map_err(|e| format!("its MLmodel file is not YAML: {e}"))?;
    let Some(inputs) = file.signature.and_then(|s| s.inputs) else {
        return Ok(None);
    };
    let inputs: Vec<Input> = serde_json::from_str(&inputs)
        .map_err(|e| format!("its signature's inputs are not a column list: {e}"))?;
    let algorithm = file
        .flavors
        .get("python_function")
        .and_then(|f| f.get("loader_module"))
        .and_then(|m| m.as_str())
        .map(str::to_owned)
        .or_else(|| {
            file.flavors
                .keys()
                .find(|k| *k != "python_function")
                .cloned()
        });
    Ok(Some(Signature {
        inputs: inputs.into_iter().filter(|i| !i.name.is_empty()).collect(),
        algorithm,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_named_inputs_and_the_loader() {
        let text = "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn: {}\n\
            signature:\n  inputs: '[{\"type\": \"long\", \"name\": \"age\", \"required\": true}, {\"type\": \"double\", \"name\": \"income\"}]'\n  outputs: '[{\"type\": \"tensor\"}]'\n";
        let s = signature(text).unwrap().unwrap();
        assert_eq!(s.algorithm.as_deref(), Some("mlflow.sklearn"));
        assert_eq!(s.inputs.len(), 2);
        assert_eq!(s.inputs[0].name, "age");
        assert_eq!(s.inputs[1].data_type.as_deref(), Some("double"));
        assert!(s.inputs[1].required);
    }

    #[test]
    fn no_signature_or_tensors_give_no_features() {
        assert_eq!(signature("flavors: {}\n").unwrap(), None);
        let tensors = "signature:\n  inputs: '[{\"type\": \"tensor\", \"tensor-spec\": {\"dtype\": \"float32\"}}]'\n";
        assert!(signature(tensors).unwrap().unwrap().inputs.is_empty());
        assert!(signature("signature:\n  inputs: 'not json'\n").is_err());
    }
}
