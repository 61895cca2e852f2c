#!/usr/bin/env bash
# Subscribes more ANSM recipients than the first address and number the template subscribes.
#
#   scripts/subscribe.sh dev email alice@ansm.sante.fr bob@ansm.sante.fr
#   scripts/subscribe.sh dev sms +33612345678
#   scripts/subscribe.sh dev ops astreinte@ansm.sante.fr
#
# email: both alert topics (critical and information); sms: the critical topic (CRITIQUE and
# RUPTURE only); ops: the operations topic (alarms). Email subscribers confirm from the
# message SNS sends them. Alert subscriptions filter on the message attributes "email" and
# "sms" (as the template's): an email sent while its SMS waits for the end of the quiet hours,
# and the SMS released later, each reach only their own subscribers.
set -euo pipefail
env="${1:?dev ou prod}"; kind="${2:?email, sms ou ops}"; shift 2
output() {
  aws cloudformation describe-stacks --stack-name "medistock-$env" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
case "$kind" in
  email) topics=("$(output CriticalTopicArn)" "$(output InfoTopicArn)"); protocol=email
         filter='{"email": ["oui"]}' ;;
  sms) topics=("$(output CriticalTopicArn)"); protocol=sms; filter='{"sms": ["oui"]}' ;;
  ops) topics=("$(output OpsTopicArn)"); protocol=email; filter="" ;;
  *) echo "type inconnu : $kind (email, sms ou ops)" >&2; exit 2 ;;
esac
for endpoint in "$@"; do
  if [[ "$protocol" == sms && ! "$endpoint" =~ ^\+[1-9][0-9]{7,14}$ ]]; then
    echo "numéro non E.164 : $endpoint (ex. +33612345678)" >&2; exit 2
  fi
  for topic in "${topics[@]}"; do
    if [[ -n "$filter" ]]; then
      aws sns subscribe --topic-arn "$topic" --protocol "$protocol" --notification-endpoint "$endpoint" \
        --attributes "{\"FilterPolicy\": $(printf '%s' "$filter" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}" \
        --query SubscriptionArn --output text
    else
      aws sns subscribe --topic-arn "$topic" --protocol "$protocol" --notification-endpoint "$endpoint" \
        --query SubscriptionArn --output text
    fi
  done
done
