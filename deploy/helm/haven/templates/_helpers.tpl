{{/* haven.fullname is the name of the release's objects. */}}
{{- define "haven.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* haven.selectorLabels pick the release's haven pods. */}}
{{- define "haven.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "haven.labels" -}}
{{ include "haven.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "haven.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "haven.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "haven.claimName" -}}
{{- default (printf "%s-data" (include "haven.fullname" .)) .Values.persistence.existingClaim -}}
{{- end -}}

{{/* haven.secretName holds what the chart keeps secret for the release. */}}
{{- define "haven.secretName" -}}
{{- include "haven.fullname" . -}}
{{- end -}}

{{- define "haven.runnerNamespace" -}}
{{- default .Release.Namespace .Values.runner.namespace -}}
{{- end -}}

{{/* haven.kube is true when workloads run on the cluster. */}}
{{- define "haven.kube" -}}
{{- if eq .Values.runner.kind "kubernetes" }}true{{ end -}}
{{- end -}}

{{/* haven.check fails on values that cannot work together. */}}
{{- define "haven.check" -}}
{{- if not (has .Values.runner.kind (list "none" "kubernetes")) -}}
{{- fail "runner.kind is none or kubernetes" -}}
{{- end -}}
{{- if not (or .Values.database.url .Values.database.existingSecret) -}}
{{- fail "database.url or database.existingSecret is required: replicas share a PostgreSQL database" -}}
{{- end -}}
{{- if not (or .Values.blobStore.url .Values.blobStore.existingSecret) -}}
{{- fail "blobStore.url or blobStore.existingSecret is required: replicas share an S3 bucket" -}}
{{- end -}}
{{- if and .Values.secretKey.value (lt (len .Values.secretKey.value) 32) -}}
{{- fail "secretKey.value needs at least 32 characters (openssl rand -hex 32)" -}}
{{- end -}}
{{- end -}}
