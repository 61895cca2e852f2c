#!/usr/bin/env bash
# Builds every Lambda function for arm64 and deploys the stack of one environment.
#
#   scripts/deploy.sh dev            # or prod (asks to confirm the change set)
#   scripts/deploy.sh dev --parameter-overrides "Environment=dev AlertEmails=a@ansm.fr"
#
# Needs, from docs/deploy.md: AWS credentials for the target account (aws sso login…), the
# SAM CLI, cargo-lambda and zig (cross-compilation to arm64). Extra arguments go to sam deploy.
set -euo pipefail
cd "$(dirname "$0")/.."

env="${1:-}"
case "$env" in
  dev|prod) shift ;;
  *) echo "usage : scripts/deploy.sh dev|prod [arguments de sam deploy…]" >&2; exit 2 ;;
esac

missing=()
for tool in sam cargo-lambda zig aws; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "outils absents : ${missing[*]} (installation : docs/deploy.md)" >&2
  exit 2
fi
aws sts get-caller-identity --query Account --output text >/dev/null \
  || { echo "aucun identifiant AWS valide (aws sso login ?)" >&2; exit 2; }

sam validate --lint --template infra/template.yaml
sam build --config-env "$env"
sam deploy --config-env "$env" "$@"
aws cloudformation describe-stacks --stack-name "medistock-$env" \
  --query "Stacks[0].Outputs[].[OutputKey,OutputValue]" --output table
