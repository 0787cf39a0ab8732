{{- define "sco.name" -}}smartcloudops-operator{{- end -}}

{{- define "sco.fullname" -}}
{{- if contains "smartcloudops-operator" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-smartcloudops-operator" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "sco.labels" -}}
app.kubernetes.io/name: {{ include "sco.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "sco.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sco.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sco.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sco.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- /* The leader election Lease: one per release, so two releases in one namespace never share it. */}}
{{- define "sco.leaseName" -}}
{{- default (printf "%s-leader" (include "sco.fullname" .)) .Values.leaderElection.id -}}
{{- end -}}
