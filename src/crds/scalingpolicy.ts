// ScalingPolicy: HPAs on CPU and memory, a manual mode, schedule windows; it owns the target's replica count.
import {
  Arr,
  Bool,
  commonStatus,
  Cron,
  DNS_LABEL_PATTERN,
  Duration,
  Enum,
  Int,
  Obj,
  ObjectName,
  Optional,
  Passthrough,
  Str,
  type Static,
} from './schema.js';

const replicas = (description: string, dflt?: number) =>
  Int({ description, minimum: 1, maximum: 1000, ...(dflt !== undefined ? { default: dflt } : {}) });

const Window = Obj(
  {
    name: Str({ description: 'Name of the window, unique in the list.', pattern: DNS_LABEL_PATTERN, maxLength: 63 }),
    schedule: Cron('When the window opens: a 5-field cron expression, e.g. "0 8 * * 1-5".'),
    duration: Duration({ description: 'How long the window stays open, e.g. "10h".' }),
    timeZone: Optional(Str({ description: 'IANA time zone of the schedule; UTC when unset.', maxLength: 64 })),
    minReplicas: replicas('minReplicas while the window is open (may be lower or higher than the default).'),
    maxReplicas: replicas('maxReplicas while the window is open.'),
  },
  {
    description: 'A time window with its own replica bounds.',
    validations: [
      {
        rule: 'self.minReplicas <= self.maxReplicas',
        message: 'minReplicas must not exceed maxReplicas',
        fieldPath: '.minReplicas',
      },
    ],
  },
);

export const ScalingPolicySpec = Obj(
  {
    targetRef: Obj(
      {
        kind: Enum(['SmartCloudOpsApp', 'Deployment'] as const, { description: 'Kind of the scaled object.' }),
        name: ObjectName('Name of the scaled object, in this namespace.'),
        component: Optional(
          Enum(['backend', 'frontend'] as const, { description: 'Which component of a SmartCloudOpsApp to scale.' }),
        ),
      },
      {
        description: 'What to scale. Immutable: create a new policy to scale something else.',
        validations: [
          { rule: 'self == oldSelf', message: 'targetRef is immutable' },
          {
            rule: "(self.kind == 'SmartCloudOpsApp') == has(self.component)",
            message: 'component is required for kind SmartCloudOpsApp and not allowed for kind Deployment',
          },
        ],
      },
    ),
    mode: Optional(
      Enum(['Auto', 'Manual', 'Paused'] as const, {
        description:
          'Auto: an HPA scales between min and max. Manual: exactly `replicas`. Paused: leave the count as it is (shown as the condition Suspended=True with reason ModePaused).',
        default: 'Auto',
      }),
    ),
    replicas: Optional(Int({ description: 'The replica count in Manual mode.', minimum: 0, maximum: 1000 })),
    minReplicas: Optional(replicas('Lowest replica count in Auto mode.', 2)),
    maxReplicas: Optional(replicas('Highest replica count in Auto mode.', 10)),
    metrics: Optional(
      Obj(
        {
          cpu: Optional(
            Int({
              description: 'Target average CPU utilization, percent of requests.',
              minimum: 1,
              maximum: 100,
              default: 70,
            }),
          ),
          memory: Optional(
            Int({
              description: 'Target average memory utilization, percent of requests.',
              minimum: 1,
              maximum: 100,
              default: 80,
            }),
          ),
        },
        { description: 'What the HPA scales on.', default: {} },
      ),
    ),
    behavior: Optional(
      Passthrough({ description: 'autoscaling/v2 HorizontalPodAutoscalerBehavior, passed to the HPA as is.' }),
    ),
    scaleDownFreeze: Optional(
      Obj(
        {
          duringRollout: Optional(
            Bool({
              description:
                'Freeze scale-down while the target Deployment rolls out (a new template not yet on every replica).',
              default: true,
            }),
          ),
          duringDrill: Optional(
            Bool({
              description:
                'Freeze scale-down while a DR drill restores into the target: the target Deployment carries the annotation ops.smartcloudops.ai/dr-restore-in-progress (its value names the drill).',
              default: true,
            }),
          ),
        },
        {
          description:
            'When the HPA may not scale down (its behavior.scaleDown.selectPolicy is set to Disabled meanwhile; scale-up continues). Auto mode only.',
          default: {},
        },
      ),
    ),
    windows: Optional(
      Arr(Window, {
        description: 'Time windows with other bounds, e.g. business hours; the first open window wins.',
        listType: 'map',
        listMapKeys: ['name'],
        maxItems: 20,
      }),
    ),
  },
  {
    description: 'Desired state of the scaling policy.',
    validations: [
      {
        rule: 'self.minReplicas <= self.maxReplicas',
        message: 'minReplicas must not exceed maxReplicas',
        fieldPath: '.minReplicas',
      },
      {
        rule: "self.mode != 'Manual' || has(self.replicas)",
        message: 'replicas is required in Manual mode',
        fieldPath: '.replicas',
      },
    ],
  },
);

export const ScalingPolicyStatus = Obj(
  {
    ...commonStatus,
    effectiveMinReplicas: Optional(Int({ description: 'minReplicas after schedule windows.', minimum: 0 })),
    effectiveMaxReplicas: Optional(Int({ description: 'maxReplicas after schedule windows.', minimum: 0 })),
    activeWindow: Optional(Str({ description: 'Name of the open schedule window, if any.', maxLength: 63 })),
    mode: Optional(Enum(['Auto', 'Manual', 'Paused'] as const, { description: 'The mode acted on.' })),
    hpaRef: Optional(
      Obj(
        { name: Str({ description: 'Name of the HorizontalPodAutoscaler.', maxLength: 253 }) },
        { description: 'The HorizontalPodAutoscaler this policy owns (Auto mode).' },
      ),
    ),
    currentReplicas: Optional(Int({ description: 'Replicas the target Deployment runs.', minimum: 0 })),
    desiredReplicas: Optional(
      Int({ description: "Replicas wanted: the HPA's desiredReplicas (Auto) or spec.replicas (Manual).", minimum: 0 }),
    ),
    lastScaleTime: Optional(
      Str({ description: 'When the HPA last changed the replica count (RFC 3339).', format: 'date-time' }),
    ),
    currentMetrics: Optional(
      Arr(
        Obj(
          {
            name: Enum(['cpu', 'memory'] as const, { description: 'The resource.' }),
            currentUtilization: Optional(
              Int({ description: 'Average utilization now, percent of requests (from the HPA).', minimum: 0 }),
            ),
            target: Int({ description: 'Target average utilization, percent of requests.', minimum: 0 }),
          },
          { description: 'One metric the HPA scales on.' },
        ),
        { description: 'What the HPA sees (Auto mode).', listType: 'map', listMapKeys: ['name'], maxItems: 2 },
      ),
    ),
    why: Optional(Str({ description: 'One line: why the target runs the replicas it runs.', maxLength: 1024 })),
  },
  { description: 'Observed state of the scaling policy.' },
);

export type ScalingPolicySpec = Static<typeof ScalingPolicySpec>;
export type ScalingPolicyStatus = Static<typeof ScalingPolicyStatus>;
