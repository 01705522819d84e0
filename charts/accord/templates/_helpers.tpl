{{/* The name every object of the release carries. */}}
{{- define "accord.name" -}}
{{- printf "%s-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "accord.labels" -}}
app.kubernetes.io/name: accord
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The labels that select the operator's pods. */}}
{{- define "accord.selector" -}}
app.kubernetes.io/name: accord
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The PersistentVolumeClaim holding the state folder. */}}
{{- define "accord.stateClaim" -}}
{{- .Values.state.existingClaim | default (printf "%s-state" (include "accord.name" .)) -}}
{{- end -}}
