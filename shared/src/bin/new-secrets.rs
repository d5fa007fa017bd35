//! Prints fresh values for a deployment's Secrets Manager secret, as the JSON object the
//! functions read (`JWT_SECRET`, `TOKEN_PEPPER`, `MFA_ENCRYPTION_KEY`). Pipe it straight into
//! `aws secretsmanager put-secret-value --secret-string file:///dev/stdin`; never save it.

fn main() {
    println!("{}", shared::secrets::new_deployment_secret());
}
